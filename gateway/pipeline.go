package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/rbac"
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
	reach org.Reach // the caller's projects on the instance and what each allows
	cap   rbac.Capability
	body  []byte
	d     *Decision
}

// serveRuntime runs the pipeline for a Runtime API request.
func (g *Gateway) serveRuntime(w http.ResponseWriter, r *http.Request, d Decision) Decision {
	rest := apiRest(r.URL.Path)
	// identity
	start := time.Now()
	p, err := g.Auth.Authenticate(r)
	g.observe(r.Context(), StepAuthenticate, start)
	if err != nil {
		return Deny(w, d, err)
	}
	d.Identify(p)
	note, err := g.Auth.CheckAddress(p, g.ClientIP(r))
	if err != nil {
		return Deny(w, d, err)
	}
	d.Note = note

	// the route's action and resource, within the credential's scopes
	route := runtimeapi.Classify(r)
	d.Action = route.Action
	d.resource = resourceOf(route)
	if !route.Known() {
		return Deny(w, d, denial.New("unknown_route",
			fmt.Sprintf("%s %s is not a Qiskit Runtime API route this gateway forwards", r.Method, r.URL.Path)))
	}
	if !p.Allows(route.Action) {
		return Deny(w, d, denial.New("scope_not_granted",
			fmt.Sprintf("API key %s is not scoped for %s (rule: the key's scopes)", p.KeyID, route.Action)))
	}

	// org: the instance, and the caller's projects that may use it
	in, reach, err := g.instance(r, p)
	if err != nil {
		return Deny(w, d, err)
	}
	d.Instance = in.Alias
	d.Project = reach.List[0].Project

	// RBAC: a role in one of those projects must grant the route's
	// capability; for a job or session, over that object (below). The
	// request's decision is d, which q.d points to: every step's notes
	// and rules reach its audit record, a refusal's included.
	q := &request{w: w, r: r, rest: rest, route: route, p: p, in: in, reach: reach, cap: rbac.RouteCapability(route), d: &d}
	start = time.Now()
	err = q.authorize()
	g.observe(r.Context(), StepAuthorize, start)
	if err != nil {
		return Deny(w, *q.d, err)
	}

	// limits: a job submission's request rate is counted, and its room
	// for one more job checked, before its body is read; it is admitted
	// below, once read, with its counts and cost. Any other request
	// counts against the caller's rate.
	start = time.Now()
	if route.Action == runtimeapi.ActionJobCreate {
		err := g.precheck(q)
		g.observe(r.Context(), StepLimits, start)
		if err != nil {
			return Deny(w, *q.d, err)
		}
	} else {
		err := g.checkRate(q)
		g.observe(r.Context(), StepLimits, start)
		if err != nil {
			return Deny(w, *q.d, err)
		}
		// policies: those written for this action may block it or
		// notify; a job submission meets its policies below, with its
		// facts and cost
		if err := g.checkPolicies(q); err != nil {
			return Deny(w, *q.d, err)
		}
	}
	release, rerr := g.reserveBody(r)
	if rerr != nil {
		return Deny(w, *q.d, rerr)
	}
	defer release()
	if q.body, err = ReadBody(r, g.MaxBodyBytes); err != nil {
		return Deny(w, *q.d, err)
	}

	// access to the object, then upstream and the ownership record
	switch {
	case route.Action == runtimeapi.ActionJobCreate:
		return g.createJob(q)
	case route.Action == runtimeapi.ActionSessionCreate:
		return g.createSession(q)
	case route.Action == runtimeapi.ActionJobRead && route.Resource == runtimeapi.ResourceInstance:
		return g.listJobs(q)
	case route.Action == runtimeapi.ActionInstanceUsageRead:
		return g.usage(q)
	case route.Resource == runtimeapi.ResourceJob:
		return g.ownedObject(q, g.Jobs, "job", rbac.JobRead)
	case route.Resource == runtimeapi.ResourceSession:
		return g.ownedObject(q, g.Sessions, "session", rbac.SessionRead)
	}
	return g.pass(q)
}

// apiRest is a Runtime API path below its base: "/jobs/j-1" of
// "/api/v1/jobs/j-1".
func apiRest(p string) string {
	for _, prefix := range runtimeapi.Prefixes {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			return rest
		}
	}
	return p
}

// instance resolves Service-CRN (a CRN or an alias) to a configured
// instance that at least one of the caller's projects may use, and the
// caller's reach on it. An instance the caller may not use gets the same
// answer whether it exists or not, so another tenant cannot learn which
// instances are governed.
func (g *Gateway) instance(r *http.Request, p *identity.Principal) (*org.Instance, org.Reach, *denial.Denial) {
	ref := strings.TrimSpace(r.Header.Get("Service-CRN"))
	if ref == "" {
		return nil, org.Reach{}, denial.Newf("missing_service_crn", "missing Service-CRN header: name the service instance by CRN or alias")
	}
	dir := g.Directory.Load()
	access := dir.Access(p.Member(), g.Now())
	in := dir.Instance(ref)
	var reach org.Reach
	if in != nil && in.Tenant == p.Tenant {
		reach = access.On(in)
	}
	if len(reach.List) == 0 {
		return nil, org.Reach{}, denial.New("instance_not_accessible",
			fmt.Sprintf("user %s may not use service instance %q: no access group or role assignment in tenant %s gives any of their projects [%s] a role on an instance of that name",
				p.UserID, ref, p.Tenant, strings.Join(access.Projects(), ", ")))
	}
	return in, reach, nil
}

// chooseProject picks the project a new job or session is for: the
// ProjectHeader, else a "project:<name>" tag, else the first project of
// the caller on the instance whose roles allow the creation.
func chooseProject(q *request, tags []string) (string, *denial.Denial) {
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
		for _, pa := range q.reach.List {
			if creates(pa.Set, q.cap) {
				return pa.Project, nil
			}
		}
		return q.reach.List[0].Project, nil // none allows it: the check names the first
	}
	if !slices.Contains(q.reach.Projects(), want) {
		return "", denial.New("project_not_accessible",
			fmt.Sprintf("user %s may not use instance %s for project %q (allowed: %s)", q.p.UserID, q.in.Alias, want, strings.Join(q.reach.Projects(), ", ")))
	}
	return want, nil
}

// pass forwards a request that needs no ownership check.
func (g *Gateway) pass(q *request) Decision {
	if err := g.forward(q.w, q, nil, q.body); err != nil {
		return Deny(q.w, *q.d, err)
	}
	q.d.Outcome = "allowed"
	return *q.d
}
