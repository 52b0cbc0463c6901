package gateway

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/qgov/qgov/approval"
	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/jobs"
	"github.com/qgov/qgov/notify"
	"github.com/qgov/qgov/policy"
	"github.com/qgov/qgov/quota"
)

// autoApprove notes the workflows the submitter's roles approve at once
// (auto_approve_for) and returns the indexes of the others.
func (g *Gateway) autoApprove(q *request, steps []policy.Workflow) []int {
	var pending []int
	for i, w := range steps {
		if policy.Matches(w.AutoApproveFor, q.p.UserID, q.p.Email, q.roles(q.d.Project)) {
			q.d.note(fmt.Sprintf("auto-approved by workflow %s (auto_approve_for)", w.Name))
			continue
		}
		pending = append(pending, i)
	}
	return pending
}

// newJobID returns an id shaped like the Runtime API's: 20 lower-case
// letters and digits, starting with a letter.
func newJobID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [20]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	b[0] = alphabet[int(b[0])%26]
	return string(b[:])
}

// hold stores the job for its workflows' approvers instead of
// forwarding it, and answers the client as the upstream would: with a
// job id, which then reads Queued with the approval as its reason.
func (g *Gateway) hold(q *request, sub *runtimeapi.Submission, adm *quota.Admission, steps []policy.Workflow, pending []int) Decision {
	ctx := context.WithoutCancel(q.r.Context()) // admitted: the hold is recorded whole even if the client hangs up
	fail := func(err error) Decision {
		g.releaseAdmission(ctx, adm)
		g.Logger.Error("holding a job for approval", "error", err)
		return Deny(q.w, *q.d, denial.New("store_unavailable",
			"the gateway cannot hold this job for approval right now; nothing was submitted, retry shortly"))
	}
	if g.Approvals == nil {
		return fail(errors.New("no approval store is configured"))
	}
	id := newJobID()
	header := outboundHeader(q.r.Header)
	h := approval.Hold{ID: id, Tenant: q.p.Tenant, Project: q.d.Project, Instance: q.in.Alias,
		Submitter: approval.Submitter{User: q.p.UserID, Name: q.p.Name, Email: q.p.Email, KeyID: q.p.KeyID, Roles: q.roles(q.d.Project)},
		Request:   approval.Request{Method: q.r.Method, Path: q.rest, Header: header, Body: q.body},
		Backend:   sub.Backend, Program: sub.ProgramID, Session: sub.SessionID, Tags: sub.Tags, Shots: sub.Shots, Rules: q.d.rules,
		EstimatedCostUSD: adm.Estimate.USD, Steps: steps, Created: g.Now().UTC()}
	if adm.ID != "" {
		adm.Hold = id
		if err := g.Quota.Rewrite(ctx, adm.Reservation); err != nil {
			return fail(err)
		}
		h.Reservation, _ = json.Marshal(adm.Reservation)
	}
	for i := range steps {
		if !slices.Contains(pending, i) {
			h.Auto = append(h.Auto, i)
		}
	}
	if err := g.Approvals.Put(ctx, h); err != nil {
		return fail(err)
	}
	st := approval.NewState(h)
	rec := g.jobRecord(q, sub, adm, id, sub.Backend)
	rec.Held = true
	g.record(ctx, g.Jobs, rec, nil)

	q.d.Outcome, q.d.resource = "held", audit.Resource{Type: "quantum_job", ID: id}
	q.d.note(st.Waiting(g.Now()))
	var names, approvers []string
	for _, i := range pending {
		names = append(names, steps[i].Name)
		for _, t := range steps[i].Approvers {
			approvers = append(approvers, t.String())
		}
	}
	g.announceHold(ctx, st, "qgov.approval.requested", "", fmt.Sprintf("Job %s of %s (project %s, backend %s, estimated USD %.2f) is held for approval: %s.",
		id, q.p.UserID, q.d.Project, sub.Backend, adm.Estimate.USD, strings.TrimPrefix(st.Waiting(g.Now()), "awaiting approval: ")))
	runtimeapi.WriteJSON(q.w, http.StatusOK, map[string]any{"id": id, "backend": sub.Backend,
		"qgov": map[string]any{"status": "pending_approval", "workflows": names, "approvers": approvers, "decide_by": st.Deadline()}})
	return *q.d
}

// announceHold tells a held job's people and channels, as each of its
// workflows' notify asks: "submitter", "approvers", channel names. The
// message's id is the hold's, the event's and part's (which step, when a
// hold has several of the event), the same in every run of the step that
// announces it (a follow-up finished again, a release taken over), so
// that receivers drop the repeats.
func (g *Gateway) announceHold(ctx context.Context, st *approval.State, event, part, text string) {
	if g.Notify == nil {
		return
	}
	var chans, people []string
	tenantChans := g.Directory.Load().Settings(st.Tenant).NotificationChannels
	for _, w := range st.Steps {
		for _, n := range w.Notify {
			switch n {
			case policy.NotifySubmitter:
				people = append(people, cmp.Or(st.Submitter.Email, "user "+st.Submitter.User))
				chans = append(chans, tenantChans...)
			case policy.NotifyApprovers:
				for _, tier := range w.Tiers() {
					for _, t := range tier {
						people = append(people, strings.TrimPrefix(t.String(), "user "))
					}
				}
				chans = append(chans, tenantChans...)
			default:
				chans = append(chans, n)
			}
		}
	}
	if len(chans) == 0 {
		return
	}
	sum := sha256.Sum256([]byte(event + "\x00" + st.ID + "\x00" + part))
	g.Notify.Send(ctx, dedupe(chans), notify.Message{ID: "msg_" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]), Event: event, Tenant: st.Tenant, Text: text, Recipients: dedupe(people),
		Data: map[string]any{"job_id": st.ID, "project": st.Project, "instance": st.Instance, "submitter": st.Submitter.User,
			"backend": st.Backend, "estimated_cost_usd": st.EstimatedCostUSD}})
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// heldJob serves a request for a job the gateway holds: its document,
// a cancellation, a deletion; other reads wait for the job to exist
// upstream. A job released meanwhile is served as any other.
func (g *Gateway) heldJob(q *request, rec jobs.Record) Decision {
	ctx := q.r.Context()
	st, err := g.Approvals.Get(ctx, rec.ID)
	if err != nil {
		g.Logger.Error("reading a held job", "job", rec.ID, "error", err)
		return Deny(q.w, *q.d, denial.New("store_unavailable", "the gateway cannot read held job "+rec.ID+" right now"))
	}
	g.Expire(ctx, st)
	if st.Upstream != nil && st.Upstream.JobID != "" {
		rec.Upstream = st.Upstream.JobID
		return g.aliased(q, rec)
	}
	now := g.Now()
	switch {
	case q.route.Action == runtimeapi.ActionJobRead && q.rest == "/jobs/"+rec.ID:
		runtimeapi.WriteJSON(q.w, http.StatusOK, st.Job(now))
	case q.route.Action == runtimeapi.ActionJobCancel, q.route.Action == runtimeapi.ActionJobDelete:
		switch {
		case st.Fate == nil:
			fate := approval.Fate{Fate: approval.Cancelled, By: q.p.UserID, At: now.UTC(), Node: g.Node}
			won, err := g.Approvals.Finish(ctx, st, fate)
			if err != nil {
				return Deny(q.w, *q.d, denial.New("store_unavailable", "the gateway cannot cancel held job "+rec.ID+" right now"))
			}
			if !won { // decided meanwhile: read it again
				return g.heldJob(q, rec)
			}
			st.Fate = &fate
			g.endHold(ctx, st)
		case st.Fate.Fate == approval.Released && st.Upstream == nil:
			if err := g.cancelReleasing(ctx, st, q.p.UserID); err != nil {
				return Deny(q.w, *q.d, err)
			}
			if st.Upstream.JobID != "" { // it reached the backend: cancel it there
				if fresh, err := g.Jobs.Refresh(ctx, rec.Instance, rec.ID); err == nil {
					rec = fresh
				}
				rec.Upstream = st.Upstream.JobID
				return g.aliased(q, rec)
			}
		case q.route.Action == runtimeapi.ActionJobCancel:
			return Deny(q.w, *q.d, denial.New("job_final", fmt.Sprintf("job %s is already final: %s", rec.ID, st.Job(now).State.Reason)))
		}
		if q.route.Action == runtimeapi.ActionJobDelete {
			if err := g.Jobs.Remove(ctx, rec.Instance, rec.ID); err != nil {
				g.Logger.Error("removing ownership", "job", rec.ID, "error", err)
			}
		}
		q.w.WriteHeader(http.StatusNoContent)
	case q.route.Results && st.Fate != nil:
		q.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		q.w.WriteHeader(http.StatusOK)
		j := st.Job(now)
		fmt.Fprintf(q.w, "Job %s %s: %s\n", rec.ID, strings.ToLower(j.Status), j.State.Reason)
	default:
		return Deny(q.w, *q.d, denial.New("job_held", fmt.Sprintf(
			"job %s has not reached the backend: %s", rec.ID, st.Job(now).State.Reason)))
	}
	q.d.Outcome = "allowed"
	return *q.d
}

// aliased serves a released job under the id the client knows: the
// request goes upstream with the upstream's id, and the answer comes
// back with the client's.
func (g *Gateway) aliased(q *request, rec jobs.Record) Decision {
	visible, upstream := rec.ID, rec.Upstream
	q.rest = strings.Replace(q.rest, "/jobs/"+visible, "/jobs/"+upstream, 1)
	q.route.ID = upstream
	out := q.w
	c := newCaptured()
	q.w = c
	d := g.ownedAction(q, rec) // the record keeps the id the client sees
	c.replay(out, bytes.ReplaceAll(c.body.Bytes(), []byte(upstream), []byte(visible)))
	return d
}

// Expire ends a hold whose time is up: each expired step is decided as
// a timeout, then the job is rejected. It is safe on every replica: the
// first to record the fate wins.
func (g *Gateway) Expire(ctx context.Context, st *approval.State) {
	now := g.Now()
	expired := st.Expired(now)
	if st.Fate != nil || len(expired) == 0 {
		return
	}
	w := st.Steps[expired[0]]
	why := fmt.Sprintf("workflow %s had no decision within %g hours", w.Name, w.TimeoutHours*float64(len(w.Tiers())))
	for _, i := range expired {
		if _, err := g.Approvals.Decide(ctx, st.ID, i, approval.Decision{Decision: approval.Timeout, By: "qgov", At: now.UTC()}); err != nil {
			g.Logger.Warn("recording an approval timeout", "job", st.ID, "error", err)
			return
		}
	}
	fate := approval.Fate{Fate: approval.TimedOut, By: "qgov", Comment: why, At: now.UTC(), Node: g.Node}
	won, err := g.Approvals.Finish(ctx, st, fate)
	if err != nil || !won {
		if fresh, err := g.Approvals.Get(ctx, st.ID); err == nil {
			*st = *fresh
		}
		return
	}
	st.Fate = &fate
	g.endHold(ctx, st)
}

// endHold releases a hold's reservation once its job will not run,
// records and announces how it ended, and closes the hold. Its steps are
// idempotent: whoever finishes a stopped replica's follow-up runs it
// again.
func (g *Gateway) endHold(ctx context.Context, st *approval.State) {
	var r quota.Reservation
	if len(st.Reservation) > 0 && json.Unmarshal(st.Reservation, &r) == nil && r.ID != "" {
		if err := g.Quota.Release(ctx, r); err != nil {
			g.Logger.Error("releasing a held job's reservation", "job", st.ID, "error", err)
			return
		}
	}
	defer func() {
		if err := g.Approvals.Close(ctx, st); err != nil {
			g.Logger.Warn("closing an ended hold", "job", st.ID, "error", err)
		}
	}()
	reason := st.Reason()
	if st.Fate.Fate == approval.TimedOut {
		g.auditEvent(ctx, &audit.Record{Action: audit.ActionApprovalTime, Outcome: audit.Success, TenantID: st.Tenant, UserID: st.Submitter.User,
			InitiatorAuthnName: "qgov", Project: st.Project, Instance: st.Instance, Resource: audit.Resource{Type: "quantum_job", ID: st.ID},
			RuleIDs: stepRules(st), Note: reason})
	}
	g.announceHold(ctx, st, "qgov.approval."+st.Fate.Fate, "", fmt.Sprintf("Job %s of %s (project %s) was %s.", st.ID, st.Submitter.User, st.Project, reason))
}

// lastDecider names who made a hold's latest decision.
func lastDecider(st *approval.State) string {
	var last approval.Decision
	for _, d := range st.Decisions {
		if d.At.After(last.At) || last.By == "" {
			last = d
		}
	}
	return last.By
}

func stepRules(st *approval.State) []string {
	out := make([]string, len(st.Steps))
	for i, w := range st.Steps {
		out[i] = "workflow/" + w.Name
	}
	return out
}

// sweepHolds ends the holds whose time is up and announces
// escalations; the reconciler runs it.
func (g *Gateway) sweepHolds(ctx context.Context, tenant string) error {
	if g.Approvals == nil {
		return nil
	}
	open, err := g.Approvals.Open(ctx, tenant)
	now := g.Now()
	for _, st := range open {
		if st.Fate != nil { // decided: its follow-up is unfinished
			g.followHold(ctx, st)
			continue
		}
		g.Expire(ctx, st)
		if st.Fate == nil && st.Approved() {
			// every step approved, and the decider's replica stopped (or its
			// store write failed) before the release: release it now; if
			// that replica is only slow, one of the two wins
			g.release(ctx, st, lastDecider(st))
		}
		if st.Fate != nil {
			continue
		}
		for _, i := range st.Pending() {
			w := &st.Steps[i]
			if tier, _ := w.Tier(st.Created, now); tier == 0 {
				continue
			}
			if first, err := g.Approvals.Escalate(ctx, st.ID, i); err != nil || !first {
				continue
			}
			text := fmt.Sprintf("Job %s of %s (project %s) was escalated: %s.", st.ID, st.Submitter.User, st.Project,
				strings.TrimPrefix(st.Waiting(now), "awaiting approval: "))
			g.auditEvent(ctx, &audit.Record{Action: audit.ActionEscalate, Outcome: audit.Success, TenantID: st.Tenant,
				UserID: st.Submitter.User, InitiatorAuthnName: "qgov", Project: st.Project, Instance: st.Instance,
				Resource: audit.Resource{Type: "quantum_job", ID: st.ID}, RuleIDs: []string{"workflow/" + w.Name}, Note: text})
			g.announceHold(ctx, st, "qgov.approval.escalated", strconv.Itoa(i), text)
		}
	}
	return err
}

// heldDocs are the caller's jobs still held, as job documents, for a job
// list.
func (g *Gateway) heldDocs(ctx context.Context, recs []jobs.Record) []json.RawMessage {
	var out []json.RawMessage
	for _, rec := range recs {
		st, err := g.Approvals.Get(ctx, rec.ID)
		if err != nil {
			continue
		}
		g.Expire(ctx, st)
		if st.Upstream != nil && st.Upstream.JobID != "" {
			continue
		}
		doc, _ := json.Marshal(st.Job(g.Now()))
		out = append(out, doc)
	}
	slices.Reverse(out) // newest first, as the upstream lists
	return out
}
