package gateway

import (
	"cmp"
	"encoding/json"
	"net/http"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/ibm/runtimeapi"
)

// statusWriter remembers the status answered, for the audit record.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// resourceOf names what a Runtime API route acts on, in the audit
// schema's terms.
func resourceOf(route runtimeapi.Route) audit.Resource {
	switch route.Resource {
	case runtimeapi.ResourceJob:
		return audit.Resource{Type: "quantum_job", ID: route.ID}
	case "":
		return audit.Resource{}
	}
	return audit.Resource{Type: string(route.Resource), ID: route.ID}
}

// auditRecord turns a decision into its audit record. The request's path
// is kept, never its query or headers, which may carry credentials.
func (g *Gateway) auditRecord(r *http.Request, d *Decision) *audit.Record {
	rec := &audit.Record{
		TenantID: d.Tenant, UserID: d.User, KeyID: d.KeyID, TargetUserID: d.subject,
		Action: string(d.Action), Resource: d.resource, Request: d.request,
		Status: d.Status, Code: d.Code, Project: d.Project, Instance: d.Instance, UpstreamJobID: d.jobID,
		TraceID: d.Trace, UserAgent: r.UserAgent(), Note: d.Note, RuleIDs: d.rules,
	}
	if rec.TargetUserID == d.User {
		rec.TargetUserID = ""
	}
	if p := d.caller; p != nil {
		rec.SessionID, rec.InitiatorAuthnID = p.SessionID, p.UserID
		rec.InitiatorAuthnName = cmp.Or(p.Name, p.Email, p.UserID)
	}
	if ip := g.ClientIP(r); ip.IsValid() {
		rec.IPAddress = ip.String()
	}
	if rec.Request == nil {
		rec.Request = &audit.Request{}
	}
	rec.Request.Method, rec.Request.Path = r.Method, r.URL.Path
	rec.Outcome = d.Result()
	if d.Reason != "" {
		rec.Reasons = []string{d.Reason}
	}
	rec.Before, rec.After = rawJSON(d.before), rawJSON(d.after)
	return rec
}

// Result is the decision's outcome in the audit schema: success,
// denied, held, modified or failure (an allowed request the upstream or
// the gateway could not serve).
func (d *Decision) Result() string {
	switch {
	case d.Outcome == "denied":
		return audit.Denied
	case d.Outcome == "held":
		return audit.Held
	case d.Outcome == "modified" && d.Status < http.StatusBadRequest:
		return audit.Modified
	case d.Status >= http.StatusBadRequest:
		return audit.Failure
	}
	return audit.Success
}

func rawJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
