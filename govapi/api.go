// Package govapi is qgov's governance API under /governance/v1/: the
// governance objects, API keys and sessions, held jobs and their
// decisions, usage, audit queries and verification, compliance reports,
// export and apply, and its OpenAPI document. The gateway mounts it
// (gateway.Governance) and audits each of its requests; deciding a held
// job is the gateway's own lifecycle (Gateway.Decide).
package govapi

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/internal/route"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/rbac"
	"github.com/qgov/qgov/report"
)

// maxReportRecords bounds the records one report reads.
const maxReportRecords = 1_000_000

// Config is what the governance API serves beside the gateway's state.
type Config struct {
	// Catalog keeps the governance objects the API reads and changes;
	// nil serves none.
	Catalog Catalog
	// Outbound is what objects created through the API may name:
	// declared credentials and allowed hosts.
	Outbound Outbound
	// AuditSource answers audit queries; AuditDir is the trail's
	// directory, which verification reads.
	AuditSource audit.Source
	AuditDir    string
}

// API serves the governance API of a gateway.
type API struct {
	Config
	g *gateway.Gateway
	// openAPI is the document it serves (OpenAPI).
	openAPI []byte
}

// New returns the governance API of g; mount it as g.Governance.
func New(g *gateway.Gateway, cfg Config) *API { return &API{Config: cfg, g: g, openAPI: OpenAPI} }

// govCall is one governance API request.
type govCall struct {
	a      *API
	g      *gateway.Gateway
	w      http.ResponseWriter
	r      *http.Request
	p      *identity.Principal
	access org.Access
}

// ServeGovernance implements gateway.Governance: it finds the route,
// authenticates the caller (the identity layer does, for keys and
// sessions) and serves it.
func (a *API) ServeGovernance(w http.ResponseWriter, r *http.Request, d gateway.Decision) gateway.Decision {
	g := a.g
	rt, found := routes.Match(r)
	if found == route.Found && rt.admin {
		return a.serveAdmin(w, r, d, strings.TrimPrefix(r.URL.Path, gateway.GovernancePrefix)) // authenticated by the identity layer, as on /auth/
	}
	d.Action = audit.ActionAuditQuery
	if found == route.Found {
		d.Action = runtimeapi.Action(rt.action) // a refusal below is audited as what was asked
	}
	p, err := g.Auth.Authenticate(r)
	if err != nil {
		return gateway.Deny(w, d, err)
	}
	d.Identify(p)
	if _, err := g.Auth.CheckAddress(p, g.ClientIP(r)); err != nil {
		return gateway.Deny(w, d, err)
	}
	if p.Narrowed() {
		return gateway.Deny(w, d, denial.New("scope_not_granted", fmt.Sprintf(
			"API key %s is narrowed to some actions or projects and acts only on the Runtime API; the governance API needs a key that is not narrowed, or a signed-in user", p.KeyID)))
	}
	switch found {
	case route.Unknown:
		return gateway.Deny(w, d, unknownRoute(r))
	case route.NotAllowed:
		return gateway.Deny(w, d, gateway.MethodNotAllowed(r, routes.Allow(r)))
	}
	q := govCall{a: a, g: g, w: w, r: r, p: p, access: g.Directory.Load().Access(p.Member(), g.Now())}
	if err := rt.serve(q, &d); err != nil {
		return gateway.Deny(w, d, err)
	}
	d.Outcome = "allowed"
	return d
}

// mayAudit requires audit:view across the tenant, and a tenant_id, when
// given, to be the caller's own.
func (q govCall) mayAudit() *denial.Denial {
	if t := q.r.URL.Query().Get("tenant_id"); t != "" && t != q.p.Tenant {
		return denial.New("tenant_not_accessible",
			fmt.Sprintf("user %s may read only the trail of their own tenant %s, not %s", q.p.UserID, q.p.Tenant, t))
	}
	if !q.access.Tenant().Has(rbac.AuditView) {
		return denial.New("permission_denied",
			fmt.Sprintf("user %s lacks audit:view across tenant %s (role admin grants it)", q.p.UserID, q.p.Tenant))
	}
	return nil
}

func (q govCall) queryLogs() *denial.Denial {
	if err := q.mayAudit(); err != nil {
		return err
	}
	v := q.r.URL.Query()
	f, err := audit.ParseFilter(v)
	if err != nil {
		return denial.Newf("invalid_query", "%v", err)
	}
	size, err := audit.PageSize(v.Get("page_size"))
	if err != nil {
		return denial.Newf("invalid_query", "%v", err)
	}
	f.Tenant = q.p.Tenant
	switch v.Get("format") {
	case "csv":
		recs, gerr := q.records(f)
		if gerr != nil {
			return gerr
		}
		var buf bytes.Buffer
		if err := audit.WriteCSV(&buf, recs); err != nil {
			return denial.Newf("invalid_query", "%v", err)
		}
		q.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		q.w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		q.w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-audit.csv"`, q.p.Tenant))
		_, _ = buf.WriteTo(q.w)
		return nil
	case "", "json":
	default:
		return denial.Newf("invalid_format", "format %q: use json or csv", v.Get("format"))
	}
	page, err := q.a.AuditSource.Query(q.r.Context(), f, v.Get("page_token"), size)
	if err != nil {
		q.g.Logger.Error("querying the audit trail", "error", err)
		return denial.New("audit_unavailable", "the audit trail cannot be read right now")
	}
	runtimeapi.WriteJSON(q.w, http.StatusOK, map[string]any{"tenant_id": q.p.Tenant, "count": len(page.Logs),
		"logs": page.Logs, "next_page_token": page.NextPageToken})
	return nil
}

func (q govCall) verify() *denial.Denial {
	if err := q.mayAudit(); err != nil {
		return err
	}
	v, err := audit.Verify(q.a.AuditDir)
	if err != nil {
		return denial.New("audit_not_found", err.Error())
	}
	runtimeapi.WriteJSON(q.w, http.StatusOK, map[string]any{"ok": v.OK(), "verification": v})
	return nil
}

// report builds a report. access_review, security_events, soc2 and
// iso27001 need audit:view; budget_usage and job_summary need report:view,
// and cover the projects where its scope reaches. CSV and PDF need
// report:export or audit:view.
func (q govCall) report(kind string) *denial.Denial {
	v := q.r.URL.Query()
	format := v.Get("format")
	if format == "" {
		format = "json"
	}
	if report.Formats[format] == "" {
		return denial.Newf("invalid_format", "format %q: use json, csv or pdf", format)
	}
	if !slices.Contains(report.Kinds, kind) {
		return denial.New("unknown_report", fmt.Sprintf("report type %q: use one of %s", kind, strings.Join(report.Kinds, ", ")))
	}
	period, err := report.ParsePeriod(v.Get("period"))
	if err != nil {
		return denial.Newf("invalid_period", "%v", err)
	}
	in := report.Input{Kind: kind, Tenant: q.p.Tenant, Period: period, Now: q.g.Now()}
	if perr := q.mayReport(&in, format); perr != nil {
		return perr
	}
	if perr := q.gather(&in); perr != nil {
		return perr
	}
	rep, err := report.Build(in)
	if err != nil {
		return denial.Newf("invalid_report", "%v", err)
	}
	var buf bytes.Buffer // rendered whole, so its length is known and a client can show progress
	if err := rep.Render(&buf, format); err != nil {
		q.g.Logger.Error("rendering a report", "kind", kind, "error", err)
		return denial.New("report_failed", "the report could not be rendered")
	}
	q.w.Header().Set("Content-Type", report.Formats[format])
	q.w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	if format != "json" {
		q.w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s-%s.%s"`, q.p.Tenant, kind, period.Name, format))
	}
	_, _ = buf.WriteTo(q.w)
	return nil
}

// mayReport checks the caller's permission for the report and narrows a
// project-scoped report to the caller's projects.
func (q govCall) mayReport(in *report.Input, format string) *denial.Denial {
	tenant := q.access.Tenant()
	if format != "json" && !tenant.Has(rbac.ReportExport) && !tenant.Has(rbac.AuditView) {
		return denial.New("permission_denied",
			fmt.Sprintf("user %s lacks report:export (roles billing, admin) for %s reports", q.p.UserID, format))
	}
	switch in.Kind {
	case report.BudgetUsage, report.JobSummary:
		if tenant.Scope(rbac.ReportView) == rbac.Tenant || tenant.Has(rbac.AuditView) {
			return nil
		}
		in.Projects = q.projectsWith(rbac.ReportView)
		if len(in.Projects) == 0 {
			return denial.New("permission_denied",
				fmt.Sprintf("user %s lacks report:view in any project of tenant %s (roles team_lead, billing, admin)", q.p.UserID, q.p.Tenant))
		}
		return nil
	}
	return q.mayAudit()
}

// projectsWith lists the caller's projects where a capability reaches the
// whole project.
func (q govCall) projectsWith(c rbac.Capability) []string {
	var out []string
	for _, in := range q.access.Instances() {
		for _, pa := range q.access.On(in).List {
			if pa.Set.Scope(c) >= rbac.Project && !slices.Contains(out, pa.Project) {
				out = append(out, pa.Project)
			}
		}
	}
	return out
}

// records reads every record a filter matches, at most maxReportRecords.
func (q govCall) records(f audit.Filter) ([]audit.Record, *denial.Denial) {
	var out []audit.Record
	for token := ""; ; {
		page, err := q.a.AuditSource.Query(q.r.Context(), f, token, audit.MaxPageSize)
		if err != nil {
			q.g.Logger.Error("reading the audit trail", "error", err)
			return nil, denial.New("audit_unavailable", "the audit trail cannot be read right now")
		}
		out = append(out, page.Logs...)
		if len(out) > maxReportRecords {
			return nil, denial.New("period_too_large",
				fmt.Sprintf("more than %d records match; ask for a shorter period or narrower filters", maxReportRecords))
		}
		if token = page.NextPageToken; token == "" {
			return out, nil
		}
	}
}

// gather reads what a report is built from: the period's records, and
// for the access review and evidence bundles the organisation and keys.
func (q govCall) gather(in *report.Input) *denial.Denial {
	ctx := q.r.Context()
	var gerr *denial.Denial
	if in.Records, gerr = q.records(audit.Filter{Tenant: q.p.Tenant, From: in.Period.From, To: in.Period.To}); gerr != nil {
		return gerr
	}
	if in.Kind == report.AccessReview || in.Kind == report.SOC2 || in.Kind == report.ISO27001 {
		now := q.g.Now()
		for _, u := range q.g.Directory.Load().Users(q.p.Tenant) {
			in.Users = append(in.Users, report.UserAccess{User: u, Grants: q.g.Directory.Load().Access(org.Member{Tenant: q.p.Tenant, User: u}, now).Grants()})
			keys, err := q.g.Auth.UserKeys.List(ctx, q.p.Tenant, u, now)
			if err != nil {
				return denial.New("store_unavailable", "the gateway cannot list API keys right now")
			}
			for _, k := range keys {
				in.Keys = append(in.Keys, report.Key{ID: k.ID, Owner: k.Owner, Kind: "self-service", Created: k.Created, Expires: k.Expires, LastUsed: k.LastUsed})
			}
		}
		for _, p := range q.g.Auth.Keys.Keys(q.p.Tenant) {
			in.Keys = append(in.Keys, report.Key{ID: p.KeyID, Owner: p.UserID, Kind: "configured"})
		}
		in.Groups = q.g.Directory.Load().AccessGroups()
	}
	if in.Kind == report.SOC2 || in.Kind == report.ISO27001 {
		if v, err := audit.Verify(q.a.AuditDir); err == nil {
			in.Trail = v
		}
	}
	return nil
}
