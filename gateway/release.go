package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/qgov/qgov/approval"
	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/jobs"
	"github.com/qgov/qgov/quota"
)

// release records the release of a fully approved held job and forwards
// it: of every replica and retry that gets here, only the one that
// records the release owns the forward, and if it stops, one replica
// takes it over (see followup.go), so the job runs upstream once.
func (g *Gateway) release(ctx context.Context, st *approval.State, by string) {
	fate := approval.Fate{Fate: approval.Released, By: by, At: g.Now().UTC(), Node: g.Node}
	won, err := g.Approvals.Finish(ctx, st, fate)
	if err != nil || !won {
		if err != nil {
			g.Logger.Error("recording a release", "job", st.ID, "error", err)
		}
		if fresh, err := g.Approvals.Get(ctx, st.ID); err == nil {
			*st = *fresh
		}
		return
	}
	st.Fate = &fate
	// the forward outlives the approver's request: once released, the
	// job is submitted even if they hang up
	g.followRelease(context.WithoutCancel(ctx), st, false, "")
}

// takeOver makes this replica the owner of a released job's unfinished
// forward, and reports false when another replica took it first.
func (g *Gateway) takeOver(ctx context.Context, st *approval.State) bool {
	if node, _ := st.Owner(); node == g.Node {
		return true
	}
	a := approval.Attempt{Node: g.Node, At: g.Now().UTC()}
	won, err := g.Approvals.TakeOver(ctx, st.ID, len(st.Attempts)+1, a)
	if err != nil {
		g.Logger.Warn("taking over a released job's forward", "job", st.ID, "error", err)
	}
	if won {
		st.Attempts = append(st.Attempts, a)
	}
	return won
}

// followRelease is the owner's part of a release: it forwards the held
// request with its tracking tag, records the upstream's answer once,
// binds or releases the reservation and ownership, and closes the hold.
// look, on a take-over, first looks for the upstream job an earlier
// owner may have created; cancelledBy, on a take-over that finds none,
// records the job cancelled instead of forwarding it. A forward that got
// no answer is left for the next pass, which looks before it forwards.
func (g *Gateway) followRelease(ctx context.Context, st *approval.State, look bool, cancelledBy string) {
	if _, busy := working.LoadOrStore(st.ID, true); busy {
		return
	}
	defer working.Delete(st.ID)
	if st.Upstream == nil {
		ans, ok := g.forwardRelease(ctx, st, look, cancelledBy)
		if !ok {
			return
		}
		won, err := g.Approvals.Answer(ctx, st.ID, ans)
		if err != nil {
			g.Logger.Error("recording a released job's upstream answer; it is looked up again later", "job", st.ID, "upstream", ans.JobID, "error", err)
			return
		}
		if !won {
			fresh, err := g.Approvals.Get(ctx, st.ID)
			if err != nil {
				return
			}
			*st = *fresh
			if ans.JobID != "" && ans.JobID != st.Upstream.JobID { // another replica's answer stands: this forward must not run too
				g.cancelDuplicate(ctx, st, ans.JobID)
			}
		} else {
			st.Upstream = &ans
			g.auditRelease(ctx, st, look)
		}
	}
	if err := g.bindRelease(ctx, st); err != nil {
		g.Logger.Error("binding a released job", "job", st.ID, "error", err)
		return
	}
	if err := g.Approvals.Close(ctx, st); err != nil {
		g.Logger.Warn("closing a released hold", "job", st.ID, "error", err)
	}
}

// forwardRelease finds or forwards a released job. It reports false when
// the answer is unknown (the upstream could not be asked, or did not
// answer the forward), to be tried again.
func (g *Gateway) forwardRelease(ctx context.Context, st *approval.State, look bool, cancelledBy string) (approval.Upstream, bool) {
	ans := approval.Upstream{At: g.Now().UTC()}
	in := g.Directory.Load().Instance(st.Instance)
	if in == nil {
		ans.Status, ans.Error = http.StatusNotFound, "instance "+st.Instance+" is no longer configured"
		return ans, true
	}
	if look {
		id, err := g.findTracked(ctx, in, st.ID)
		if err != nil {
			g.Logger.Warn("looking up a released job upstream", "job", st.ID, "error", err)
			return ans, false
		}
		if id != "" {
			ans.JobID, ans.Status = id, http.StatusOK
			return ans, true
		}
	}
	if cancelledBy != "" {
		ans.CancelledBy = cancelledBy
		return ans, true
	}
	body, err := runtimeapi.WithTag(st.Request.Body, runtimeapi.TrackTag(st.ID))
	if err != nil {
		ans.Status, ans.Error = http.StatusBadRequest, "the held request cannot be tagged: "+err.Error()
		return ans, true
	}
	ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, st.Request.Method, "/", nil)
	if err != nil {
		ans.Status, ans.Error = http.StatusBadRequest, err.Error()
		return ans, true
	}
	r.Header = st.Request.Header.Clone()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	c, ferr := g.forwardCaptured(&request{r: r, rest: st.Request.Path, in: in}, nil, body)
	if ferr != nil {
		g.Logger.Warn("a released job's forward got no answer; it is looked up and tried again later", "job", st.ID, "error", ferr.Message)
		return ans, false
	}
	if !definite(c.status) {
		g.Logger.Warn("a released job's forward got no definite answer; it is looked up and tried again later", "job", st.ID, "status", c.status)
		return ans, false
	}
	var created struct {
		ID string `json:"id"`
	}
	ans.Status = c.status
	if c.status == http.StatusOK && json.Unmarshal(c.body.Bytes(), &created) == nil && created.ID != "" {
		ans.JobID = created.ID
	} else {
		ans.Error = strings.TrimSpace(c.body.String())
	}
	return ans, true
}

// cancelDuplicate cancels an upstream job a release created after
// another replica's forward of the same job was recorded.
func (g *Gateway) cancelDuplicate(ctx context.Context, st *approval.State, jobID string) {
	g.Logger.Error("a released job reached the upstream twice; cancelling the second", "job", st.ID, "kept", st.Upstream.JobID, "cancelled", jobID)
	if in := g.Directory.Load().Instance(st.Instance); in != nil {
		if _, err := g.upstreamJSON(ctx, in, http.MethodPost, "/jobs/"+jobID+"/cancel", nil); err != nil {
			g.Logger.Error("cancelling a released job's second upstream job", "job", st.ID, "upstream", jobID, "error", err)
		}
	}
}

// definite reports whether an upstream status says for sure whether a
// job was created: 200 it was, a 4xx other than 408 and 429 it was not.
// A 5xx (from the upstream or a proxy before it), 408 or 429 may follow a
// creation, so the job is looked up by its tag instead.
func definite(status int) bool {
	return status == http.StatusOK || status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}

// bindRelease makes a released job's reservation and ownership follow
// its upstream answer: bound to the upstream job, or, when there is none,
// the reservation released. It is idempotent, so whoever finishes the
// follow-up may run it again.
func (g *Gateway) bindRelease(ctx context.Context, st *approval.State) error {
	var r quota.Reservation
	hasRes := len(st.Reservation) > 0 && json.Unmarshal(st.Reservation, &r) == nil && r.ID != ""
	up := st.Upstream.JobID
	if up == "" {
		if hasRes {
			return g.Quota.Release(ctx, r)
		}
		return nil
	}
	rec, err := g.Jobs.Refresh(ctx, st.Instance, st.ID)
	switch {
	case errors.Is(err, jobs.ErrNotFound): // the replica that held it stopped before recording it
		rec = jobs.Record{ID: st.ID, Instance: st.Instance, Tenant: st.Tenant, Project: st.Project, Owner: st.Submitter.User,
			KeyID: st.Submitter.KeyID, Backend: st.Backend, Program: st.Program, Session: st.Session, Created: st.Created, Held: true}
	case err != nil:
		return err
	}
	if hasRes {
		r.JobID = up
		if err := g.Quota.Rewrite(ctx, r); err != nil {
			return err
		}
		rec.Quota, _ = json.Marshal(r)
	}
	rec.Upstream = up
	return g.Jobs.Add(ctx, rec)
}

// auditRelease records and announces what a release came to.
func (g *Gateway) auditRelease(ctx context.Context, st *approval.State, tookOver bool) {
	by, up := st.Fate.By, st.Upstream.JobID
	outcome, note := audit.Success, fmt.Sprintf("held job %s released upstream as %s after approval by %s", st.ID, up, by)
	switch {
	case st.Upstream.CancelledBy != "":
		note = fmt.Sprintf("held job %s, approved by %s, was cancelled by %s before it reached the backend", st.ID, by, st.Upstream.CancelledBy)
	case up == "":
		outcome, note = audit.Failure, fmt.Sprintf("held job %s released after approval by %s, but the upstream refused it (%d): %s", st.ID, by, st.Upstream.Status, st.Upstream.Error)
	}
	if tookOver {
		node, _ := st.Owner()
		note += fmt.Sprintf(" (forward finished by replica %s after replica %s stopped)", node, st.Fate.Node)
	}
	g.auditEvent(ctx, &audit.Record{Action: audit.ActionRelease, Outcome: outcome, TenantID: st.Tenant, UserID: st.Submitter.User,
		KeyID: st.Submitter.KeyID, InitiatorAuthnName: by, Project: st.Project, Instance: st.Instance, UpstreamJobID: up,
		Resource: audit.Resource{Type: "quantum_job", ID: st.ID}, RuleIDs: stepRules(st), Status: st.Upstream.Status, Note: note,
		Request: &audit.Request{Method: st.Request.Method, Path: st.Request.Path, Program: st.Program, Backend: st.Backend, EstimatedCostUSD: st.EstimatedCostUSD}})
	g.announceHold(ctx, st, "qgov.approval.released", "", note+".")
}

// followHold finishes what a decided hold's replica left undone when it
// stopped: a release's forward (taken over: found or forwarded again),
// or the end of a hold that will not run.
func (g *Gateway) followHold(ctx context.Context, st *approval.State) {
	node, since := st.Owner()
	if !g.orphaned(ctx, node, since, st.ID) {
		return
	}
	if st.Fate.Fate != approval.Released {
		g.endHold(ctx, st)
		return
	}
	if g.takeOver(ctx, st) {
		g.followRelease(ctx, st, true, "")
	}
}

// cancelReleasing cancels a released job whose forward is unfinished. A
// forward in hand (its replica runs) cannot be cancelled yet; one left by
// a stopped replica is taken over: the upstream job it created is
// returned to be cancelled there, and with none the job is recorded
// cancelled and never forwarded.
func (g *Gateway) cancelReleasing(ctx context.Context, st *approval.State, by string) *denial.Denial {
	busy := &denial.Denial{Code: "job_releasing", RetryAfter: 2,
		Message: fmt.Sprintf("job %s was approved and is being submitted to the backend right now; retry the cancel in a moment", st.ID)}
	node, since := st.Owner()
	if !g.orphaned(ctx, node, since, st.ID) || !g.takeOver(ctx, st) {
		return busy
	}
	g.followRelease(ctx, st, true, by)
	fresh, err := g.Approvals.Get(ctx, st.ID)
	if err != nil || fresh.Upstream == nil {
		return busy
	}
	*st = *fresh
	return nil
}
