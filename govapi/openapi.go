package govapi

import (
	"encoding/json"
	"strings"
)

// OpenAPI is the governance API's OpenAPI 3 document, served at
// /governance/v1/openapi.json.
var OpenAPI = func() []byte {
	b, err := json.MarshalIndent(openAPI(), "", "  ")
	if err != nil {
		panic(err) // maps of strings and slices always marshal
	}
	return b
}()

// obj is a JSON object of the document.
type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func param(name, in, desc string, required bool) obj {
	return obj{"name": name, "in": in, "required": required, "description": desc, "schema": obj{"type": "string"}}
}

func jsonBody(schema obj, desc string) obj {
	return obj{"required": true, "description": desc, "content": obj{"application/json": obj{"schema": schema}}}
}

// answers are an operation's responses: the success, and the errors in
// the Runtime API's error body.
func answers(status, desc string, schema obj, errs ...string) obj {
	r := obj{status: obj{"description": desc, "content": obj{"application/json": obj{"schema": schema}}}}
	for _, e := range append([]string{"401", "403"}, errs...) {
		r[e] = obj{"$ref": "#/components/responses/Error"}
	}
	return r
}

func op(summary string, params []obj, body obj, resp obj) obj {
	o := obj{"summary": summary, "responses": resp, "operationId": operationID(summary)}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if body != nil {
		o["requestBody"] = body
	}
	return o
}

// operationID derives an operation id from its summary.
func operationID(summary string) string {
	f := strings.FieldsFunc(strings.ToLower(summary), func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9') })
	return strings.Join(f, "_")
}

var (
	tenantParam = param("tenant_id", "query", "The tenant; default the caller's. Another tenant needs platform:manage.", false)
	ifMatch     = param("If-Match", "header", "The object's ETag from GET, or * for any revision.", true)
	anyObject   = obj{"type": "object"}
)

func openAPI() obj {
	paths := obj{}
	for _, rt := range operations {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		item, _ := paths[path].(obj)
		if item == nil {
			item = obj{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = rt.Value.doc
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{"title": "qgov governance API", "version": "1",
			"description": "Tenants, projects, instances, access groups, roles, assignments, limits, budgets, policies, workflows, approvals, keys, sessions, audit and reports of a qgov gateway. Objects declared in configuration are read-only here (409 managed_by_config)."},
		"servers":  []obj{{"url": "/"}},
		"security": []obj{{"bearer": []string{}}},
		"paths":    paths,
		"components": obj{
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer",
				"description": "A token from /identity/token (a qgov API key exchanged) or an identity provider's token."}},
			"responses": obj{"Error": obj{"description": "The Runtime API's error body.", "content": obj{"application/json": obj{"schema": ref("Error")}}}},
			"schemas": obj{
				"Error": obj{"type": "object", "required": []string{"errors", "trace"}, "properties": obj{
					"errors": obj{"type": "array", "items": obj{"type": "object", "properties": obj{
						"code": obj{"type": "string"}, "message": obj{"type": "string"}, "more_info": obj{"type": "string"}}}},
					"trace": obj{"type": "string"}}},
				"Entry": obj{"type": "object", "properties": obj{
					"kind": obj{"type": "string"}, "tenant": obj{"type": "string"}, "name": obj{"type": "string"}, "owner": obj{"type": "string"},
					"managed_by": obj{"type": "string", "enum": []string{"config", "api"}}, "source": obj{"type": "string"},
					"spec": anyObject, "revision": obj{"type": "integer"}, "etag": obj{"type": "string"},
					"updated_by": obj{"type": "string"}, "updated_at": obj{"type": "string", "format": "date-time"},
					"disabled": obj{"type": "string", "description": "Why an object created through the API is not in force: the configuration contradicts it."}}},
				"Page": obj{"type": "object", "properties": obj{"kind": obj{"type": "string"}, "tenant_id": obj{"type": "string"},
					"count": obj{"type": "integer"}, "total": obj{"type": "integer"}, "items": obj{"type": "array", "items": ref("Entry")},
					"next_page_token": obj{"type": "string"}}},
				"Applied": obj{"type": "object", "properties": obj{"tenant_id": obj{"type": "string"}, "dry_run": obj{"type": "boolean"},
					"revision": obj{"type": "integer"}, "changes": obj{"type": "array", "items": anyObject}}},
				"KeyRequest": obj{"type": "object", "required": []string{"name"}, "properties": obj{
					"name": obj{"type": "string"}, "user": obj{"type": "string"}, "tenant_id": obj{"type": "string"},
					"projects": obj{"type": "array", "items": obj{"type": "string"}}, "scopes": obj{"type": "array", "items": obj{"type": "string"}},
					"expires_at": obj{"type": "string"}, "allowed_ips": obj{"type": "array", "items": obj{"type": "string"}},
					"rate_limit": obj{"type": "integer"}}},
				"DecisionRequest": obj{"type": "object", "required": []string{"decision"}, "properties": obj{
					"decision": obj{"type": "string", "enum": []string{"approve", "reject"}}, "comment": obj{"type": "string"}}},
			},
		},
	}
}
