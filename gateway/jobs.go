package gateway

import (
	"github.com/qgov/qgov/audit"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/qgov/qgov/ownership"
	"github.com/qgov/qgov/rbac"
	"github.com/qgov/qgov/runtimeapi"
)

// notFound is the answer for an object the caller may not see: the same
// as for one that does not exist, so nothing leaks.
func notFound(kind, id string) *runtimeapi.Error {
	return runtimeapi.Errorf(http.StatusNotFound, kind+"_not_found", fmt.Sprintf("%s %s not found", kind, id))
}

// ownedObject checks that the job or session named in the path is the
// caller's to see (readCap's scope covers it) and that their roles allow
// the route over it, then forwards; a successful DELETE of a job removes
// its record.
func (g *Gateway) ownedObject(q *request, reg *ownership.Registry, kind string, readCap rbac.Capability) Decision {
	id := q.route.ID
	rec, err := reg.Get(q.r.Context(), q.in.Alias, id)
	switch {
	case errors.Is(err, ownership.ErrNotFound), err == nil && !q.sees(rec, readCap):
		return deny(q.w, q.d, notFound(kind, id))
	case err != nil:
		g.Logger.Error("reading ownership", "kind", kind, "id", id, "error", err)
		return deny(q.w, q.d, runtimeapi.Errorf(http.StatusServiceUnavailable, "store_unavailable", "the gateway cannot verify who owns "+kind+" "+id+" right now"))
	}
	q.d.Project = rec.Project
	if err := q.mayAct(kind, rec); err != nil {
		return deny(q.w, q.d, err)
	}
	if q.route.Action != runtimeapi.ActionJobDelete {
		if len(rec.Quota) > 0 && (q.route.Action == runtimeapi.ActionJobCancel || q.rest == "/jobs/"+id) {
			return g.watchEnd(q, rec)
		}
		return g.pass(q)
	}
	c, ferr := g.forwardCaptured(q, nil, q.body)
	if ferr != nil {
		return deny(q.w, q.d, ferr)
	}
	if c.status >= 200 && c.status < 300 {
		if err := reg.Remove(q.r.Context(), q.in.Alias, id); err != nil {
			g.Logger.Error("removing ownership", "kind", kind, "id", id, "error", err)
		}
		g.settleSoon(rec)
	}
	c.replay(q.w, nil)
	q.d.Outcome = "allowed"
	return q.d
}

// record stores the ownership of an object the upstream just created.
// The upstream has accepted it, so a store failure must not turn into an
// error the client would retry (and so submit twice): it is retried, then
// logged.
func (g *Gateway) record(ctx context.Context, reg *ownership.Registry, rec ownership.Record) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = reg.Add(ctx, rec); err == nil {
			return
		}
	}
	g.Logger.Error("recording ownership failed; the object is invisible to its owner", "id", rec.ID, "instance", rec.Instance, "error", err)
}

// createJob decodes the submission, picks its project, forwards it and
// records the new job's owner before the caller learns its id.
func (g *Gateway) createJob(q *request) Decision {
	sub, err := runtimeapi.DecodeSubmission(q.body)
	if err != nil {
		return deny(q.w, q.d, err)
	}
	q.d.request = &audit.Request{Program: sub.ProgramID, Backend: sub.Backend, Shots: sub.Shots, Pubs: len(sub.Pubs),
		Session: sub.SessionID, Tags: sub.Tags}
	if q.d.Project, err = q.mayCreate(sub.Tags, sub.Backend); err != nil {
		return deny(q.w, q.d, err)
	}
	if sub.SessionID != "" {
		rec, serr := g.Sessions.Get(q.r.Context(), q.in.Alias, sub.SessionID)
		if serr != nil || !q.sees(rec, rbac.SessionRead) {
			return deny(q.w, q.d, notFound("session", sub.SessionID))
		}
	}
	adm, err := g.admit(q, sub)
	if err != nil {
		return deny(q.w, q.d, err)
	}
	c, ferr := g.forwardCaptured(q, nil, q.body)
	if ferr != nil {
		g.settleAdmission(q.r.Context(), adm, 0, "")
		return deny(q.w, q.d, ferr)
	}
	var created struct {
		ID      string `json:"id"`
		Backend string `json:"backend"`
	}
	_ = json.Unmarshal(c.body.Bytes(), &created)
	g.settleAdmission(q.r.Context(), adm, c.status, created.ID)
	if c.status == http.StatusOK && created.ID != "" {
		backend := created.Backend
		if backend == "" {
			backend = sub.Backend
		}
		q.d.jobID, q.d.resource = created.ID, audit.Resource{Type: "quantum_job", ID: created.ID}
		rec := ownership.Record{
			ID: created.ID, Instance: q.in.Alias, Tenant: q.p.Tenant, Project: q.d.Project, Owner: q.p.UserID, KeyID: q.p.KeyID,
			Backend: backend, Program: sub.ProgramID, Session: sub.SessionID, Created: g.Now().UTC(),
		}
		if adm.ID != "" {
			rec.Quota, _ = json.Marshal(adm.Reservation)
		}
		g.record(q.r.Context(), g.Jobs, rec)
	}
	c.replay(q.w, nil)
	q.d.Outcome = "allowed"
	return q.d
}

// createSession forwards POST /sessions with the instance's real CRN in
// its body and records the new session's owner.
func (g *Gateway) createSession(q *request) Decision {
	var body map[string]any
	if err := runtimeapi.DecodeJSON(q.body, &body); err != nil {
		return deny(q.w, q.d, err)
	}
	backend, _ := body["backend"].(string)
	q.d.request = &audit.Request{Backend: backend}
	project, perr := q.mayCreate(nil, backend)
	if perr != nil {
		return deny(q.w, q.d, perr)
	}
	q.d.Project = project
	if _, ok := body["instance"]; ok {
		body["instance"] = q.in.CRN
	}
	out, _ := json.Marshal(body)
	c, ferr := g.forwardCaptured(q, nil, out)
	if ferr != nil {
		return deny(q.w, q.d, ferr)
	}
	var created struct {
		ID string `json:"id"`
	}
	if c.status == http.StatusOK && json.Unmarshal(c.body.Bytes(), &created) == nil && created.ID != "" {
		q.d.resource = audit.Resource{Type: "session", ID: created.ID}
		g.record(q.r.Context(), g.Sessions, ownership.Record{
			ID: created.ID, Instance: q.in.Alias, Tenant: q.p.Tenant, Project: project, Owner: q.p.UserID, KeyID: q.p.KeyID,
			Backend: backend, Created: g.Now().UTC(),
		})
	}
	c.replay(q.w, nil)
	q.d.Outcome = "allowed"
	return q.d
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
				return deny(q.w, q.d, runtimeapi.BadRequest("invalid_"+f.name, "%s must be an integer from %d to %d, got %q", f.name, f.min, f.max, v))
			}
			*f.dst = n
		}
	}
	mine, err := g.Jobs.Matching(q.r.Context(), q.in.Alias, func(rec ownership.Record) bool { return q.sees(rec, rbac.JobRead) })
	if err != nil {
		g.Logger.Error("listing ownership", "instance", q.in.Alias, "error", err)
		return deny(q.w, q.d, runtimeapi.Errorf(http.StatusServiceUnavailable, "store_unavailable", "the gateway cannot list the jobs you own right now"))
	}
	var kept []json.RawMessage
	if len(mine) > 0 {
		var fail *captured
		if kept, fail = g.scanJobs(q, query, mine); fail != nil {
			fail.replay(q.w, nil)
			q.d.Outcome = "allowed"
			return q.d
		}
	}
	page := []json.RawMessage{}
	if offset < len(kept) {
		page = kept[offset:min(len(kept), offset+limit)]
	}
	runtimeapi.WriteJSON(q.w, http.StatusOK, map[string]any{"jobs": page, "count": len(kept), "limit": limit, "offset": offset})
	q.d.Outcome = "allowed"
	return q.d
}

// scanJobs reads every upstream page matching the caller's filters and
// keeps the jobs in mine, in the upstream's order. A non-200 upstream
// answer is returned to be passed through.
func (g *Gateway) scanJobs(q *request, query url.Values, mine map[string]bool) ([]json.RawMessage, *captured) {
	var kept []json.RawMessage
	for upOffset := 0; ; {
		query.Set("limit", strconv.Itoa(upstreamPage))
		query.Set("offset", strconv.Itoa(upOffset))
		c, ferr := g.forwardCaptured(q, query, nil)
		if ferr != nil {
			c = newCaptured()
			ferr.Write(c, runtimeapi.NewTrace())
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
				kept = append(kept, raw)
			}
		}
		upOffset += len(list.Jobs)
		if len(list.Jobs) == 0 || upOffset >= list.Count {
			return kept, nil
		}
	}
}
