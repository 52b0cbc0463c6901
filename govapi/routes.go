package govapi

import (
	"net/http"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/governance"
	"github.com/qgov/qgov/internal/route"
)

// operation is one operation of the governance API: what it is audited
// as, how it is served, and how the OpenAPI document describes it.
type operation struct {
	// action is what the request is audited as, unless serve says more.
	action string
	// serve answers the request of an authenticated caller.
	serve func(q govCall, d *gateway.Decision) *denial.Denial
	// admin marks the key and session operations, which the identity
	// layer authenticates and serves itself.
	admin bool
	doc   obj
}

// operations are the governance API: the route table the API serves and
// the OpenAPI document describes.
var operations = func() []route.Route[operation] {
	var ops []route.Route[operation]
	add := func(pattern, action string, serve func(govCall, *gateway.Decision) *denial.Denial, doc obj) {
		ops = append(ops, route.Route[operation]{Pattern: pattern, Value: operation{action: action, serve: serve, doc: doc}})
	}
	admin := func(pattern string, doc obj) {
		ops = append(ops, route.Route[operation]{Pattern: pattern, Value: operation{action: audit.ActionAuth, admin: true, doc: doc}})
	}
	const base = gateway.GovernancePrefix
	read := audit.ActionGovernanceRead
	for _, k := range governance.Kinds {
		n := k.Name()
		objects := func(q govCall, d *gateway.Decision) *denial.Denial { return q.objects(k, q.r.PathValue("name"), d) }
		name := param("name", "path", "The object's name; for assignments <user>:<role>[:<project>], for limits and budgets <scope>:<name>.", true)
		add("GET "+base+n, read, objects, op("List "+n, []obj{tenantParam, param("page_size", "query", "At most 1 to 1000 objects (default 100).", false),
			param("page_token", "query", "The next_page_token of the previous page.", false)}, nil,
			answers("200", "A page of objects, declared and live, by name.", ref("Page"), "400")))
		add("POST "+base+n, audit.ActionGovernanceCreate, objects, op("Create one of "+n, []obj{tenantParam}, jsonBody(anyObject, "The object, with the fields of the qgov app's JSON config."),
			answers("201", "Created; ETag is its revision.", ref("Entry"), "400", "409", "413")))
		add("GET "+base+n+"/{name}", read, objects, op("Get one of "+n, []obj{name, tenantParam}, nil, answers("200", "The object; ETag is its revision.", ref("Entry"), "404")))
		add("PUT "+base+n+"/{name}", audit.ActionGovernancePut, objects, op("Create or replace one of "+n, []obj{name, tenantParam, param("If-Match", "header", "Required to replace an existing object.", false)},
			jsonBody(anyObject, "The whole object."), answers("200", "Replaced (201 when created).", ref("Entry"), "400", "404", "409", "412", "413", "428")))
		add("PATCH "+base+n+"/{name}", audit.ActionGovernancePatch, objects, op("Merge into one of "+n, []obj{name, tenantParam, ifMatch}, jsonBody(anyObject, "A JSON merge patch (RFC 7386)."),
			answers("200", "Changed.", ref("Entry"), "400", "404", "409", "412", "428")))
		add("DELETE "+base+n+"/{name}", audit.ActionGovernanceDelete, objects, op("Delete one of "+n, []obj{name, tenantParam, ifMatch}, nil, answers("200", "Deleted.", anyObject, "400", "404", "409", "412", "428")))
	}
	id := param("id", "path", "The key or session id.", true)
	user := param("user", "query", "Another user of the tenant (user:manage).", false)
	jobID := param("job_id", "path", "The held job's id.", true)
	add("GET "+base+"openapi.json", read, func(q govCall, _ *gateway.Decision) *denial.Denial {
		q.w.Header().Set("Content-Type", "application/json")
		_, _ = q.w.Write(q.a.openAPI)
		return nil
	}, op("This document", nil, nil, answers("200", "The OpenAPI document.", anyObject)))
	add("GET "+base+"export", audit.ActionGovernanceExport, func(q govCall, _ *gateway.Decision) *denial.Denial { return q.export() },
		obj{"summary": "Export live objects", "operationId": "export_live_objects", "parameters": []obj{tenantParam},
			"responses": obj{"200": obj{"description": "A governance file (YAML).", "content": obj{"application/yaml": obj{"schema": obj{"type": "string"}}}},
				"401": obj{"$ref": "#/components/responses/Error"}, "403": obj{"$ref": "#/components/responses/Error"}}})
	add("POST "+base+"apply", audit.ActionGovernanceApply, govCall.apply, op("Apply a governance file", []obj{tenantParam, param("dry_run", "query", "true: only show the changes.", false),
		param("prune", "query", "true: also delete live objects the file does not hold.", false)},
		obj{"required": true, "content": obj{"application/yaml": obj{"schema": obj{"type": "string"}}}},
		answers("200", "The changes, applied in one revision unless dry_run.", ref("Applied"), "400", "409", "413")))
	add("GET "+base+"users/{user}/roles", read, func(q govCall, _ *gateway.Decision) *denial.Denial { return q.userRoles(q.r.PathValue("user")) },
		op("Get a user's roles", []obj{param("user", "path", "The user id.", true), tenantParam}, nil, answers("200", "The user's roles: where, why, until when.", anyObject)))
	add("GET "+base+"usage", read, func(q govCall, _ *gateway.Decision) *denial.Denial { return q.usage() },
		op("This month's budgets the caller may view", nil, nil, answers("200", "Each budget's limit, spend, reservations and reset.", anyObject, "403")))
	admin("GET "+base+"keys", op("List API keys", []obj{user}, nil, answers("200", "Keys with their last use; never their secrets.", anyObject)))
	admin("POST "+base+"keys", op("Create an API key", nil, jsonBody(ref("KeyRequest"), "The key; its secret is answered once."), answers("201", "The key and its secret.", anyObject, "400")))
	admin("POST "+base+"keys/{id}/rotate", op("Rotate an API key", []obj{id}, nil, answers("200", "The new secret; the old one works for the grace period.", anyObject, "404")))
	admin("DELETE "+base+"keys/{id}", op("Revoke an API key", []obj{id}, nil, answers("200", "Revoked.", anyObject, "404")))
	admin("GET "+base+"sessions", op("List sessions", []obj{user}, nil, answers("200", "Sign-in sessions.", anyObject)))
	admin("DELETE "+base+"sessions", op("Terminate all sessions of a user", []obj{user}, nil, answers("200", "Ended, with every token issued before now.", anyObject)))
	admin("DELETE "+base+"sessions/{id}", op("Terminate a session", []obj{id}, nil, answers("200", "Ended.", anyObject, "404")))
	add("GET "+base+"approvals", audit.ActionApprovalList, func(q govCall, _ *gateway.Decision) *denial.Denial { return q.listApprovals() },
		op("List held jobs", nil, nil, answers("200", "Holds the caller may decide or submitted.", anyObject)))
	add("GET "+base+"approvals/{job_id}", audit.ActionApprovalList, govCall.approval,
		op("Get a held job", []obj{jobID}, nil, answers("200", "The hold.", anyObject, "404")))
	add("POST "+base+"approvals/{job_id}", audit.ActionApprove, govCall.approval,
		op("Decide a held job", []obj{jobID}, jsonBody(ref("DecisionRequest"), "approve or reject, with a comment."),
			answers("200", "Decided; released once every workflow approved.", anyObject, "404", "409", "429")))
	add("GET "+base+"audit/logs", audit.ActionAuditQuery, func(q govCall, _ *gateway.Decision) *denial.Denial { return q.queryLogs() },
		op("Query audit logs", []obj{tenantParam, param("start_date", "query", "RFC 3339 time or date.", false),
			param("end_date", "query", "RFC 3339 time or date.", false), param("actions", "query", "Comma-separated actions.", false),
			param("users", "query", "Comma-separated user ids.", false), param("outcomes", "query", "success, denied, held, modified, failure.", false),
			param("format", "query", "json (a page) or csv (every matching record).", false),
			param("page_size", "query", "Records per page.", false), param("page_token", "query", "The next page.", false)}, nil,
			answers("200", "A page of records.", anyObject, "400")))
	add("GET "+base+"audit/verify", audit.ActionAuditVerify, func(q govCall, _ *gateway.Decision) *denial.Denial { return q.verify() },
		op("Verify the audit trail", nil, nil, answers("200", "The hash chain's verification.", anyObject, "404")))
	add("GET "+base+"reports/{type}", audit.ActionReport, func(q govCall, d *gateway.Decision) *denial.Denial {
		kind := q.r.PathValue("type")
		d.SetResource(audit.Resource{Type: "report", ID: kind + " " + q.r.URL.Query().Get("period")})
		return q.report(kind)
	}, op("Generate a compliance report", []obj{param("type", "path", "access_review, budget_usage, job_summary, security_events, soc2 or iso27001.", true),
		param("period", "query", "2026-Q1, 2026-03, 2026, 2026-03-15 or a..b.", true), param("format", "query", "json, csv or pdf.", false)}, nil,
		answers("200", "The report.", anyObject, "400", "404")))
	return ops
}()

// routes matches requests to operations.
var routes = route.New(operations)

// unknownRoute answers a request for a path outside the table.
func unknownRoute(r *http.Request) *denial.Denial {
	return denial.New("unknown_route", r.Method+" "+r.URL.Path+" is not a governance API route")
}
