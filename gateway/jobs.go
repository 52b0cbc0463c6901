package gateway

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/jobs"
	"github.com/qgov/qgov/policy"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/rbac"
	"github.com/qgov/qgov/store"
)

// NotFound is the answer for an object the caller may not see: the same
// as for one that does not exist, so nothing leaks.
func NotFound(kind, id string) *denial.Denial {
	return denial.New(kind+"_not_found", fmt.Sprintf("%s %s not found", kind, id))
}

// ownedObject checks that the job or session named in the path is the
// caller's to see (readCap's scope covers it) and that their roles allow
// the route over it, then forwards; a successful DELETE of a job removes
// its record.
func (g *Gateway) ownedObject(q *request, reg *jobs.Registry, kind string, readCap rbac.Capability) Decision {
	id := q.route.ID
	rec, err := reg.Get(q.r.Context(), q.in.Alias, id)
	switch {
	case errors.Is(err, jobs.ErrNotFound), err == nil && !q.sees(rec, readCap):
		return Deny(q.w, *q.d, NotFound(kind, id))
	case err != nil:
		g.Logger.Error("reading ownership", "kind", kind, "id", id, "error", err)
		return Deny(q.w, *q.d, denial.New("store_unavailable", "the gateway cannot verify who owns "+kind+" "+id+" right now"))
	}
	q.d.Project = rec.Project
	if err := q.mayAct(kind, rec); err != nil {
		return Deny(q.w, *q.d, err)
	}
	if q.route.Action == runtimeapi.ActionJobUpdate {
		var tags struct {
			Tags []string `json:"tags"`
		}
		if err := runtimeapi.DecodeJSON(q.body, &tags); err != nil {
			return Deny(q.w, *q.d, err)
		}
		if err := runtimeapi.CheckOwnTags(tags.Tags); err != nil {
			return Deny(q.w, *q.d, err)
		}
	}
	// the record may come from this replica's cache: if the upstream no
	// longer knows the object, the store says whether another replica
	// removed it, and then the caller gets the answer as for any object
	// without a record
	w := q.w
	gone := &goneWriter{ResponseWriter: w, before: w.Header().Clone(), gone: func() bool {
		_, err := reg.Refresh(context.WithoutCancel(q.r.Context()), q.in.Alias, id)
		return errors.Is(err, jobs.ErrNotFound)
	}}
	q.w = gone
	var d Decision
	switch {
	case rec.Upstream != "":
		d = g.aliased(q, rec)
	case rec.Held:
		d = g.heldJob(q, rec)
	default:
		d = g.ownedAction(q, rec)
	}
	if gone.dropped {
		q.w = w
		return Deny(w, *q.d, NotFound(kind, id))
	}
	return d
}

// goneWriter passes an answer through unless it is a 404 for an object
// gone reports removed: that answer is dropped (its headers back to
// before, and its body), for the gateway's own.
type goneWriter struct {
	http.ResponseWriter
	before  http.Header // the headers set before forwarding
	gone    func() bool
	dropped bool
}

func (g *goneWriter) WriteHeader(status int) {
	if status == http.StatusNotFound && g.gone() {
		g.dropped = true
		clear(g.Header())
		maps.Copy(g.Header(), g.before)
		return
	}
	g.ResponseWriter.WriteHeader(status)
}

func (g *goneWriter) Write(b []byte) (int, error) {
	if g.dropped {
		return len(b), nil
	}
	return g.ResponseWriter.Write(b)
}

// Flush flushes what is passed through.
func (g *goneWriter) Flush() {
	if !g.dropped {
		_ = http.NewResponseController(g.ResponseWriter).Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (g *goneWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// ownedAction forwards a request for a job or session the caller may
// act on; a successful DELETE of a job removes its record, and a job
// seen to end has its reservation settled.
func (g *Gateway) ownedAction(q *request, rec jobs.Record) Decision {
	if q.route.Action != runtimeapi.ActionJobDelete {
		if len(rec.Quota) > 0 && (q.route.Action == runtimeapi.ActionJobCancel || q.rest == "/jobs/"+q.route.ID) {
			return g.watchEnd(q, rec)
		}
		return g.pass(q)
	}
	if err := g.settleBeforeDelete(q, rec); err != nil {
		return Deny(q.w, *q.d, err)
	}
	c, ferr := g.forwardCaptured(q, nil, q.body)
	if ferr != nil {
		return Deny(q.w, *q.d, ferr)
	}
	if c.status >= 200 && c.status < 300 {
		if err := g.Jobs.Remove(q.r.Context(), q.in.Alias, rec.ID); err != nil {
			g.Logger.Error("removing ownership", "job", rec.ID, "error", err)
		}
	}
	c.replay(q.w, nil)
	q.d.Outcome = "allowed"
	return *q.d
}

// record stores the ownership of an object the upstream just created
// and, given the admission of a job, binds its reservation to the job in
// the same store step. The upstream has accepted the object, so a store
// failure must not turn into an error the client would retry (and so
// submit twice): it is retried, then logged and returned; a job's
// submission is then finished by the reconciler, which finds the job by
// its tracking tag.
func (g *Gateway) record(ctx context.Context, reg *jobs.Registry, rec jobs.Record, adm *quota.Admission) error {
	start := time.Now()
	defer g.observe(ctx, StepRecord, start)
	write := func(ctx context.Context, w store.Write) error { return g.Quota.Bind(ctx, adm, rec.ID, w) }
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if adm == nil {
			err = reg.Add(ctx, rec)
		} else {
			err = reg.AddWith(ctx, rec, write)
		}
		if err == nil {
			return nil
		}
	}
	g.Logger.Error("recording ownership failed", "id", rec.ID, "instance", rec.Instance, "error", err)
	return err
}

// createJob runs a submission through the job steps: its project, the
// tenant's defaults, the policies (which may block, modify it or hold it
// for approval), its admission against limits and budgets, then either
// the hold or the upstream, and records the new job's owner before the
// caller learns its id.
func (g *Gateway) createJob(q *request) Decision {
	if err := checkJSONBody(q.r); err != nil {
		return Deny(q.w, *q.d, err)
	}
	sub, err := runtimeapi.DecodeSubmission(q.body, g.Circuits)
	if err != nil {
		return Deny(q.w, *q.d, err)
	}
	q.d.request = &audit.Request{Program: sub.ProgramID, Backend: sub.Backend, Shots: sub.Shots, Pubs: len(sub.Pubs),
		Session: sub.SessionID, Tags: sub.Tags}
	if q.d.Project, err = q.mayCreate(sub.Tags, sub.Backend); err != nil {
		return Deny(q.w, *q.d, err)
	}
	if sub.SessionID != "" {
		rec, serr := g.Sessions.Get(q.r.Context(), q.in.Alias, sub.SessionID)
		if serr != nil || !q.sees(rec, rbac.SessionRead) {
			return Deny(q.w, *q.d, NotFound("session", sub.SessionID))
		}
	}
	priority, err := g.priority(q, sub)
	if err != nil {
		return Deny(q.w, *q.d, err)
	}
	if sub, err = g.defaults(q, sub); err != nil {
		return Deny(q.w, *q.d, err)
	}
	steps, err := g.jobPolicies(q, &sub, priority)
	if err != nil {
		return Deny(q.w, *q.d, err)
	}
	q.d.request.Backend, q.d.request.Shots = sub.Backend, sub.Shots
	if err := runtimeapi.CheckOwnTags(sub.Tags); err != nil { // as sent, or as the tenant's policies made them
		return Deny(q.w, *q.d, err)
	}
	adm, err := g.admit(q, sub, priority)
	if err != nil {
		return Deny(q.w, *q.d, err)
	}
	if pending := g.autoApprove(q, steps); len(pending) > 0 {
		return g.hold(q, sub, adm, steps, pending)
	}
	// once forwarded, the job may run: the gateway finishes recording it
	// (its owner, its reservation) even if the client hangs up, and
	// tags it so that the reconciler finds it if this replica stops first
	q.r = q.r.WithContext(context.WithoutCancel(q.r.Context()))
	working.Store(adm.ID, true)
	defer working.Delete(adm.ID)
	body, terr := runtimeapi.WithTag(q.body, runtimeapi.TrackTag(adm.ID))
	if terr != nil {
		g.releaseAdmission(q.r.Context(), adm)
		return Deny(q.w, *q.d, denial.Newf("invalid_tags", "%v", terr))
	}
	c, ferr := g.forwardCaptured(q, nil, body)
	if ferr != nil {
		if ferr.Code != codeUnreachable { // nothing was sent
			g.releaseAdmission(q.r.Context(), adm)
		} // else the job may exist: the reconciler finds it by its tag, or releases the reservation
		return Deny(q.w, *q.d, ferr)
	}
	var created struct {
		ID      string `json:"id"`
		Backend string `json:"backend"`
	}
	_ = json.Unmarshal(c.body.Bytes(), &created)
	switch {
	case c.status == http.StatusOK && created.ID != "":
		q.d.jobID, q.d.resource = created.ID, audit.Resource{Type: "quantum_job", ID: created.ID}
		adm.JobID = created.ID
		g.record(q.r.Context(), g.Jobs, g.jobRecord(q, sub, adm, created.ID, cmp.Or(created.Backend, sub.Backend)), adm)
	case definite(c.status):
		g.releaseAdmission(q.r.Context(), adm)
	} // else the job may exist: the reconciler finds it by its tag, or releases the reservation
	c.replay(q.w, nil)
	if q.d.Outcome == "" {
		q.d.Outcome = "allowed"
	}
	return *q.d
}

// jobRecord is the ownership record of a new job.
func (g *Gateway) jobRecord(q *request, sub *runtimeapi.Submission, adm *quota.Admission, id, backend string) jobs.Record {
	rec := jobs.Record{
		ID: id, Instance: q.in.Alias, Tenant: q.p.Tenant, Project: q.d.Project, Owner: q.p.UserID, KeyID: q.p.KeyID,
		Backend: backend, Program: sub.ProgramID, Session: sub.SessionID, Created: g.Now().UTC(),
	}
	if adm.ID != "" {
		rec.Quota, _ = json.Marshal(adm.Reservation)
	}
	return rec
}

// defaults applies the tenant's default_backend to a job that names no
// backend, and its default_shots to a sampler job whose params give none.
func (g *Gateway) defaults(q *request, sub *runtimeapi.Submission) (*runtimeapi.Submission, *denial.Denial) {
	t := g.Directory.Load().Settings(q.p.Tenant)
	mods := map[string]any{}
	if sub.Backend == "" && t.DefaultBackend != "" {
		mods["backend"] = t.DefaultBackend
	}
	if t.DefaultShots > 0 && sub.ProgramID == runtimeapi.ProgramSampler {
		var params struct {
			Shots *int `json:"shots"`
		}
		if json.Unmarshal(sub.Params, &params) == nil && params.Shots == nil {
			mods["shots"] = t.DefaultShots
		}
	}
	if len(mods) == 0 {
		return sub, nil
	}
	body, err := policy.Apply(q.body, mods, func() (string, error) { return simulatorOf(q.in) })
	if err != nil {
		return nil, denial.New("tenant_default_failed", fmt.Sprintf(
			"the defaults of tenant %s could not be applied to this job: %v (rule: the tenant's default_backend and default_shots)", q.p.Tenant, err))
	}
	out, derr := runtimeapi.DecodeSubmission(body, g.Circuits)
	if derr != nil {
		return nil, derr
	}
	q.body = body
	if sub.Backend == "" {
		if derr := q.checkBackend(q.d.Project, out.Backend); derr != nil {
			return nil, derr
		}
	}
	return out, nil
}

// jobPolicies is the policy step of a job submission. Policies see the
// job as submitted, with its estimated cost; their modifications are
// applied to *sub and the forwarded body. It returns the workflows that
// must approve the job.
func (g *Gateway) jobPolicies(q *request, sub **runtimeapi.Submission, priority bool) ([]policy.Workflow, *denial.Denial) {
	t := g.Directory.Load().Settings(q.p.Tenant)
	if !g.Policies.Load().Applies(q.p.Tenant, string(runtimeapi.ActionJobCreate)) && !t.RequireJobApproval {
		return nil, nil
	}
	env := g.env(q)
	jobEnv(env, *sub, priority)
	est := g.Quota.Estimate(*sub, (*sub).Backend)
	env.EstimatedCostUSD = est.USD
	if g.Policies.Load().ReadsBudget() {
		env.RemainingBudgetUSD = g.remainingBudget(q)
	}
	r, err := g.evaluatePolicies(q, env)
	if err != nil {
		return nil, err
	}
	if len(r.Modifications) > 0 {
		if *sub, err = g.modify(q, r); err != nil {
			return nil, err
		}
		if err := q.checkBackend(q.d.Project, (*sub).Backend); err != nil {
			return nil, err
		}
		q.d.Outcome = "modified"
	}
	var steps []policy.Workflow
	for _, w := range r.Workflows {
		steps = append(steps, *w)
	}
	if t.RequireJobApproval && est.USD >= t.ApprovalThresholdUSD {
		steps = append(steps, policy.TenantApproval(t.ApprovalThresholdUSD))
		q.d.rules = append(q.d.rules, "workflow/"+policy.TenantApprovalName)
	}
	return steps, nil
}

// remainingBudget is the least left in the caller's budgets, -1 when
// none applies or they cannot be read.
func (g *Gateway) remainingBudget(q *request) float64 {
	u, err := g.Quota.Usage(q.r.Context(), q.caller(q.d.Project))
	if err != nil {
		g.Logger.Warn("reading budgets for policies", "error", err)
		return -1
	}
	least := -1.0
	for _, b := range u.Budgets {
		if least < 0 || b.RemainingUSD < least {
			least = b.RemainingUSD
		}
	}
	return least
}

// createSession forwards POST /sessions with the instance's real CRN in
// its body and records the new session's owner.
func (g *Gateway) createSession(q *request) Decision {
	var fields sessionRequest
	var body map[string]any
	err := checkJSONBody(q.r)
	if err == nil {
		err = runtimeapi.DecodeJSON(q.body, &fields)
	}
	if err == nil {
		err = runtimeapi.DecodeJSON(q.body, &body)
	}
	if err != nil {
		return Deny(q.w, *q.d, err)
	}
	backend := fields.Backend
	q.d.request = &audit.Request{Backend: backend}
	project, perr := q.mayCreate(nil, backend)
	if perr != nil {
		return Deny(q.w, *q.d, perr)
	}
	q.d.Project = project
	if _, ok := body["instance"]; ok {
		body["instance"] = q.in.CRN
	}
	out, _ := json.Marshal(body)
	q.r = q.r.WithContext(context.WithoutCancel(q.r.Context())) // record the session even if the client hangs up
	c, ferr := g.forwardCaptured(q, nil, out)
	if ferr != nil {
		return Deny(q.w, *q.d, ferr)
	}
	var created struct {
		ID string `json:"id"`
	}
	if c.status == http.StatusOK && json.Unmarshal(c.body.Bytes(), &created) == nil && created.ID != "" {
		q.d.resource = audit.Resource{Type: "session", ID: created.ID}
		g.record(q.r.Context(), g.Sessions, jobs.Record{
			ID: created.ID, Instance: q.in.Alias, Tenant: q.p.Tenant, Project: project, Owner: q.p.UserID, KeyID: q.p.KeyID,
			Backend: backend, Created: g.Now().UTC(),
		}, nil)
	}
	c.replay(q.w, nil)
	q.d.Outcome = "allowed"
	return *q.d
}

// sessionRequest is what the gateway reads of POST /sessions; the rest
// of the body is forwarded as it is.
type sessionRequest struct {
	Backend  string `json:"backend"`
	Instance string `json:"instance"`
}

// listsHeld reports whether a job list's filters include jobs held for
// approval: they are Queued and have no upstream fields to filter on, so
// only a list filtered by nothing but paging and pending=true shows them.
func listsHeld(query url.Values) bool {
	for k, v := range query {
		switch k {
		case "limit", "offset", "exclude_params":
		case "pending":
			if len(v) > 0 && v[0] == "false" {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// upstreamPage is how many jobs one upstream list call asks for.
const upstreamPage = 200

// listJobs answers GET /jobs with only the jobs the caller may see. The
// upstream is read page by page with the caller's filters, its answer
// filtered, and the caller's limit and offset applied to what is left, so
// count always matches what the caller can page through.
func (g *Gateway) listJobs(q *request) Decision {
	query := q.r.URL.Query()
	limit, offset := 200, 0
	for _, f := range []struct {
		name     string
		dst      *int
		min, max int
	}{{"limit", &limit, 1, 1000}, {"offset", &offset, 0, 1 << 30}} {
		if v := query.Get(f.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < f.min || n > f.max {
				return Deny(q.w, *q.d, denial.Newf("invalid_"+f.name, "%s must be an integer from %d to %d, got %q", f.name, f.min, f.max, v))
			}
			*f.dst = n
		}
	}
	var held []jobs.Record
	alias := map[string]string{} // upstream id → the id the client knows
	mine, err := g.Jobs.Matching(q.r.Context(), q.in.Alias, func(rec jobs.Record) bool {
		if !q.sees(rec, rbac.JobRead) {
			return false
		}
		switch {
		case rec.Upstream != "":
			alias[rec.Upstream] = rec.ID
		case rec.Held:
			held = append(held, rec)
		}
		return true
	})
	for up := range alias {
		mine[up] = true
	}
	if err != nil {
		g.Logger.Error("listing ownership", "instance", q.in.Alias, "error", err)
		return Deny(q.w, *q.d, denial.New("store_unavailable", "the gateway cannot list the jobs you own right now"))
	}
	var kept []json.RawMessage
	if len(mine) > 0 {
		var fail *captured
		if kept, fail = g.scanJobs(q, query, mine, alias); fail != nil {
			fail.replay(q.w, nil)
			q.d.Outcome = "allowed"
			return *q.d
		}
	}
	if len(held) > 0 && listsHeld(query) {
		kept = append(g.heldDocs(q.r.Context(), held), kept...)
	}
	page := []json.RawMessage{}
	if offset < len(kept) {
		page = kept[offset:min(len(kept), offset+limit)]
	}
	runtimeapi.WriteJSON(q.w, http.StatusOK, map[string]any{"jobs": page, "count": len(kept), "limit": limit, "offset": offset})
	q.d.Outcome = "allowed"
	return *q.d
}

// scanJobs reads every upstream page matching the caller's filters and
// keeps the jobs in mine, in the upstream's order. A non-200 upstream
// answer is returned to be passed through.
func (g *Gateway) scanJobs(q *request, query url.Values, mine map[string]bool, alias map[string]string) ([]json.RawMessage, *captured) {
	var kept []json.RawMessage
	for upOffset := 0; ; {
		query.Set("limit", strconv.Itoa(upstreamPage))
		query.Set("offset", strconv.Itoa(upOffset))
		c, ferr := g.forwardCaptured(q, query, nil)
		if ferr != nil {
			c = newCaptured()
			runtimeapi.WriteDenial(c, ferr, runtimeapi.NewTrace())
			return nil, c
		}
		var list struct {
			Jobs  []json.RawMessage `json:"jobs"`
			Count int               `json:"count"`
		}
		if c.status != http.StatusOK || json.Unmarshal(c.body.Bytes(), &list) != nil {
			return nil, c
		}
		for _, raw := range list.Jobs {
			var job struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(raw, &job) == nil && mine[job.ID] {
				if visible, ok := alias[job.ID]; ok {
					raw = bytes.ReplaceAll(raw, []byte(job.ID), []byte(visible))
				}
				kept = append(kept, raw)
			}
		}
		upOffset += len(list.Jobs)
		if len(list.Jobs) == 0 || upOffset >= list.Count {
			return kept, nil
		}
	}
}
