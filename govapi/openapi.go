package govapi

import (
	"encoding/json"
	"strings"

	"github.com/qgov/qgov/governance"
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
	for _, k := range governance.Kinds {
		n := k.Name()
		name := param("name", "path", "The object's name; for assignments <user>:<role>[:<project>], for limits and budgets <scope>:<name>.", true)
		paths["/governance/v1/"+n] = obj{
			"get": op("List "+n, []obj{tenantParam, param("page_size", "query", "At most 1 to 1000 objects (default 100).", false),
				param("page_token", "query", "The next_page_token of the previous page.", false)}, nil,
				answers("200", "A page of objects, declared and live, by name.", ref("Page"), "400")),
			"post": op("Create one of "+n, []obj{tenantParam}, jsonBody(anyObject, "The object, with the fields of the qgov app's JSON config."),
				answers("201", "Created; ETag is its revision.", ref("Entry"), "400", "409", "413")),
		}
		paths["/governance/v1/"+n+"/{name}"] = obj{
			"get": op("Get one of "+n, []obj{name, tenantParam}, nil, answers("200", "The object; ETag is its revision.", ref("Entry"), "404")),
			"put": op("Create or replace one of "+n, []obj{name, tenantParam, param("If-Match", "header", "Required to replace an existing object.", false)},
				jsonBody(anyObject, "The whole object."), answers("200", "Replaced (201 when created).", ref("Entry"), "400", "404", "409", "412", "413", "428")),
			"patch": op("Merge into one of "+n, []obj{name, tenantParam, ifMatch}, jsonBody(anyObject, "A JSON merge patch (RFC 7386)."),
				answers("200", "Changed.", ref("Entry"), "400", "404", "409", "412", "428")),
			"delete": op("Delete one of "+n, []obj{name, tenantParam, ifMatch}, nil, answers("200", "Deleted.", anyObject, "400", "404", "409", "412", "428")),
		}
	}
	id := param("id", "path", "The key or session id.", true)
	user := param("user", "query", "Another user of the tenant (user:manage).", false)
	jobID := param("job_id", "path", "The held job's id.", true)
	for p, item := range map[string]obj{
		"/governance/v1/openapi.json": {"get": op("This document", nil, nil, answers("200", "The OpenAPI document.", anyObject))},
		"/governance/v1/export": {"get": obj{"summary": "Export live objects", "operationId": "export_live_objects", "parameters": []obj{tenantParam},
			"responses": obj{"200": obj{"description": "A governance file (YAML).", "content": obj{"application/yaml": obj{"schema": obj{"type": "string"}}}},
				"401": obj{"$ref": "#/components/responses/Error"}, "403": obj{"$ref": "#/components/responses/Error"}}}},
		"/governance/v1/apply": {"post": op("Apply a governance file", []obj{tenantParam, param("dry_run", "query", "true: only show the changes.", false),
			param("prune", "query", "true: also delete live objects the file does not hold.", false)},
			obj{"required": true, "content": obj{"application/yaml": obj{"schema": obj{"type": "string"}}}},
			answers("200", "The changes, applied in one revision unless dry_run.", ref("Applied"), "400", "409", "413"))},
		"/governance/v1/users/{user}/roles": {"get": op("Get a user's roles", []obj{param("user", "path", "The user id.", true), tenantParam}, nil,
			answers("200", "The user's roles: where, why, until when.", anyObject))},
		"/governance/v1/keys": {
			"get":  op("List API keys", []obj{user}, nil, answers("200", "Keys with their last use; never their secrets.", anyObject)),
			"post": op("Create an API key", nil, jsonBody(ref("KeyRequest"), "The key; its secret is answered once."), answers("201", "The key and its secret.", anyObject, "400")),
		},
		"/governance/v1/keys/{id}/rotate": {"post": op("Rotate an API key", []obj{id}, nil, answers("200", "The new secret; the old one works for the grace period.", anyObject, "404"))},
		"/governance/v1/keys/{id}":        {"delete": op("Revoke an API key", []obj{id}, nil, answers("200", "Revoked.", anyObject, "404"))},
		"/governance/v1/sessions": {
			"get":    op("List sessions", []obj{user}, nil, answers("200", "Sign-in sessions.", anyObject)),
			"delete": op("Terminate all sessions of a user", []obj{user}, nil, answers("200", "Ended, with every token issued before now.", anyObject)),
		},
		"/governance/v1/sessions/{id}": {"delete": op("Terminate a session", []obj{id}, nil, answers("200", "Ended.", anyObject, "404"))},
		"/governance/v1/approvals":     {"get": op("List held jobs", nil, nil, answers("200", "Holds the caller may decide or submitted.", anyObject))},
		"/governance/v1/approvals/{job_id}": {
			"get": op("Get a held job", []obj{jobID}, nil, answers("200", "The hold.", anyObject, "404")),
			"post": op("Decide a held job", []obj{jobID}, jsonBody(ref("DecisionRequest"), "approve or reject, with a comment."),
				answers("200", "Decided; released once every workflow approved.", anyObject, "404", "409", "429")),
		},
		"/governance/v1/audit/logs": {"get": op("Query audit logs", []obj{tenantParam, param("start_date", "query", "RFC 3339 time or date.", false),
			param("end_date", "query", "RFC 3339 time or date.", false), param("actions", "query", "Comma-separated actions.", false),
			param("users", "query", "Comma-separated user ids.", false), param("outcomes", "query", "success, denied, held, modified, failure.", false),
			param("format", "query", "json (a page) or csv (every matching record).", false),
			param("page_size", "query", "Records per page.", false), param("page_token", "query", "The next page.", false)}, nil,
			answers("200", "A page of records.", anyObject, "400"))},
		"/governance/v1/usage": {"get": op("This month's budgets the caller may view", nil, nil,
			answers("200", "Each budget's limit, spend, reservations and reset.", anyObject, "403"))},
		"/governance/v1/audit/verify": {"get": op("Verify the audit trail", nil, nil, answers("200", "The hash chain's verification.", anyObject, "404"))},
		"/governance/v1/reports/{type}": {"get": op("Generate a compliance report", []obj{param("type", "path", "access_review, budget_usage, job_summary, security_events, soc2 or iso27001.", true),
			param("period", "query", "2026-Q1, 2026-03, 2026, 2026-03-15 or a..b.", true), param("format", "query", "json, csv or pdf.", false)}, nil,
			answers("200", "The report.", anyObject, "400", "404"))},
	} {
		paths[p] = item
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
