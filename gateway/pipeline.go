package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/runtimeapi"
)

// ProjectHeader lets a caller who belongs to several projects say which
// one a new job or session is for. Without it the job tag
// "project:<name>" decides, and then the caller's first project that may
// use the instance.
const ProjectHeader = "Qgov-Project"

// request is one Runtime API request as it moves through the pipeline.
type request struct {
	w     http.ResponseWriter
	r     *http.Request
	rest  string // path below the API base
	route runtimeapi.Route
	p     *identity.Principal
	in    *org.Instance
	body  []byte
	d     Decision
}

// serveRuntime runs the pipeline for a Runtime API request.
func (g *Gateway) serveRuntime(w http.ResponseWriter, r *http.Request, rest string) Decision {
	var d Decision
	// identity
	p, err := g.Auth.Authenticate(r)
	if err != nil {
		return deny(w, d, err)
	}
	d.User, d.KeyID, d.Tenant = p.UserID, p.KeyID, p.Tenant
	note, err := g.Auth.CheckAddress(p, g.ClientIP(r))
	if err != nil {
		return deny(w, d, err)
	}
	d.Note = note
	if err := g.Auth.CheckRate(p); err != nil {
		return deny(w, d, err)
	}

	// the route's action and resource, within the credential's scopes
	route := runtimeapi.Classify(r.Method, rest)
	d.Action = route.Action
	if !route.Known() {
		return deny(w, d, runtimeapi.Errorf(http.StatusNotFound, "unknown_route",
			fmt.Sprintf("%s %s is not a Qiskit Runtime API route this gateway forwards", r.Method, r.URL.Path)))
	}
	if !p.Allows(route.Action) {
		return deny(w, d, runtimeapi.Errorf(http.StatusForbidden, "scope_not_granted",
			fmt.Sprintf("API key %s is not scoped for %s (rule: the key's scopes)", p.KeyID, route.Action)))
	}

	// org: the instance, and the caller's projects that may use it
	in, grants, err := g.instance(r, p)
	if err != nil {
		return deny(w, d, err)
	}
	d.Instance = in.Alias
	d.Project = grants[0]

	body, err := readBody(r, g.MaxBodyBytes)
	if err != nil {
		return deny(w, d, err)
	}
	q := &request{w: w, r: r, rest: rest, route: route, p: p, in: in, body: body, d: d}

	// access to the object, then upstream and the ownership record
	switch {
	case route.Action == runtimeapi.ActionJobCreate:
		return g.createJob(q, grants)
	case route.Action == runtimeapi.ActionSessionCreate:
		return g.createSession(q, grants)
	case route.Action == runtimeapi.ActionJobRead && route.Resource == runtimeapi.ResourceInstance:
		return g.listJobs(q)
	case route.Resource == runtimeapi.ResourceJob:
		return g.ownedObject(q, g.Jobs, "job")
	case route.Resource == runtimeapi.ResourceSession:
		return g.ownedObject(q, g.Sessions, "session")
	}
	return g.pass(q)
}

// instance resolves Service-CRN (a CRN or an alias) to a configured
// instance that at least one of the caller's projects may use.
func (g *Gateway) instance(r *http.Request, p *identity.Principal) (*org.Instance, []string, *runtimeapi.Error) {
	ref := strings.TrimSpace(r.Header.Get("Service-CRN"))
	if ref == "" {
		return nil, nil, runtimeapi.BadRequest("missing_service_crn", "missing Service-CRN header: name the service instance by CRN or alias")
	}
	in := g.Directory.Instance(ref)
	if in == nil {
		return nil, nil, runtimeapi.Errorf(http.StatusForbidden, "instance_not_accessible",
			fmt.Sprintf("service instance %q is not governed by this gateway", ref))
	}
	grants := g.Directory.Grants(p.Tenant, p.Projects, in)
	if len(grants) == 0 {
		return nil, nil, runtimeapi.Errorf(http.StatusForbidden, "instance_not_accessible",
			fmt.Sprintf("user %s may not use instance %s: none of the projects [%s] in tenant %s grants it",
				p.UserID, in.Alias, strings.Join(p.Projects, ", "), p.Tenant))
	}
	return in, grants, nil
}

// chooseProject picks the project a new job or session is for: the
// ProjectHeader, else a "project:<name>" tag, else the first project of
// the caller that may use the instance.
func chooseProject(q *request, grants []string, tags []string) (string, *runtimeapi.Error) {
	want := strings.TrimSpace(q.r.Header.Get(ProjectHeader))
	if want == "" {
		for _, t := range tags {
			if name, ok := strings.CutPrefix(t, "project:"); ok {
				want = name
				break
			}
		}
	}
	if want == "" {
		return grants[0], nil
	}
	if !slices.Contains(grants, want) {
		return "", runtimeapi.Errorf(http.StatusForbidden, "project_not_accessible",
			fmt.Sprintf("user %s may not use instance %s for project %q (allowed: %s)", q.p.UserID, q.in.Alias, want, strings.Join(grants, ", ")))
	}
	return want, nil
}

// pass forwards a request that needs no ownership check.
func (g *Gateway) pass(q *request) Decision {
	if err := g.forward(q.w, q, nil, q.body); err != nil {
		return deny(q.w, q.d, err)
	}
	q.d.Outcome = "allowed"
	return q.d
}
