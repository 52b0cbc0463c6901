package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/qgov/qgov/approval"
	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/jobs"
	"github.com/qgov/qgov/rbac"
)

// DecisionRequest is the body of POST /governance/v1/approvals/{job_id},
// IBM's enterprise-governance approve_job.
type DecisionRequest struct {
	// Decision is "approve" or "reject".
	Decision string `json:"decision"`
	// Comment says why; a rejection's comment becomes the job's reason.
	Comment string `json:"comment"`
}

// ApprovalView is what the approvals API shows of a hold.
type ApprovalView struct {
	JobID            string   `json:"job_id"`
	Status           string   `json:"status"`
	Reason           string   `json:"reason"`
	Tenant           string   `json:"tenant_id"`
	Project          string   `json:"project"`
	Instance         string   `json:"instance"`
	Submitter        string   `json:"submitter"`
	SubmitterName    string   `json:"submitter_name,omitempty"`
	Backend          string   `json:"backend"`
	Program          string   `json:"program"`
	Shots            int      `json:"shots"`
	Tags             []string `json:"tags"`
	EstimatedCostUSD float64  `json:"estimated_cost_usd"`
	// Rules name the policies and workflows that held the job.
	Rules     []string                  `json:"rules"`
	Workflows []string                  `json:"workflows"`
	Decisions map[int]approval.Decision `json:"decisions"`
	Fate      *approval.Fate            `json:"fate,omitempty"`
	Upstream  *approval.Upstream        `json:"upstream,omitempty"`
	Created   time.Time                 `json:"created"`
	DecideBy  time.Time                 `json:"decide_by"`
	Pending   []string                  `json:"pending_workflows"`
	// MayDecide says whether the caller may decide a pending step now.
	MayDecide bool `json:"may_decide"`
}

// view is a hold as the caller sees it.
func (q govCall) view(st *approval.State) ApprovalView {
	now := q.g.Now()
	j := st.Job(now)
	v := ApprovalView{JobID: st.ID, Status: "pending", Reason: j.State.Reason, Tenant: st.Tenant, Project: st.Project,
		Instance: st.Instance, Submitter: st.Submitter.User, SubmitterName: st.Submitter.Name, Backend: st.Backend, Program: st.Program,
		Shots: st.Shots, Tags: st.Tags, Rules: st.Rules,
		EstimatedCostUSD: st.EstimatedCostUSD, Decisions: st.Decisions, Fate: st.Fate, Upstream: st.Upstream,
		Created: st.Created, DecideBy: st.Deadline(), Workflows: []string{}, Pending: []string{}}
	for i, w := range st.Steps {
		v.Workflows = append(v.Workflows, w.Name)
		if _, ok := st.Decisions[i]; !ok {
			v.Pending = append(v.Pending, w.Name)
		}
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if v.Rules == nil {
		v.Rules = []string{}
	}
	if st.Fate != nil {
		v.Status = st.Fate.Fate
	} else {
		_, err := q.deciderSteps(st, now)
		v.MayDecide = err == nil
	}
	return v
}

// approvals serves the approvals API:
//
//	GET  approvals            the caller's tenant's open holds they may decide or submitted
//	GET  approvals/{job_id}   one hold
//	POST approvals/{job_id}   decide: {"decision": "approve"|"reject", "comment": "…"}
func (q govCall) approvals(rest string, d *Decision) *runtimeapi.Error {
	g := q.g
	if g.Approvals == nil {
		return runtimeapi.Errorf(http.StatusNotFound, "approvals_not_configured", "this gateway holds no jobs for approval")
	}
	id := strings.TrimPrefix(strings.TrimPrefix(rest, "approvals"), "/")
	if id == "" {
		if q.r.Method != http.MethodGet {
			return runtimeapi.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", q.r.Method+" is not served on "+q.r.URL.Path)
		}
		d.Action = audit.ActionApprovalList
		return q.listApprovals()
	}
	d.resource = audit.Resource{Type: "quantum_job", ID: id}
	st, err := g.Approvals.Get(q.r.Context(), id)
	switch {
	case errors.Is(err, approval.ErrNotFound), err == nil && !q.seesHold(st):
		return notFound("job", id)
	case err != nil:
		g.Logger.Error("reading a held job", "job", id, "error", err)
		return runtimeapi.Errorf(http.StatusServiceUnavailable, "store_unavailable", "the gateway cannot read held job "+id+" right now")
	}
	d.Project, d.Instance, d.subject = st.Project, st.Instance, st.Submitter.User
	g.expire(q.r.Context(), st)
	switch q.r.Method {
	case http.MethodGet:
		d.Action = audit.ActionApprovalList
		runtimeapi.WriteJSON(q.w, http.StatusOK, q.view(st))
		return nil
	case http.MethodPost:
		return q.decide(st, d)
	}
	return runtimeapi.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", q.r.Method+" is not served on "+q.r.URL.Path)
}

// seesHold: the submitter, and whoever may approve in its project.
func (q govCall) seesHold(st *approval.State) bool {
	return st.Tenant == q.p.Tenant && (st.Submitter.User == q.p.UserID || q.access.InProject(rbac.Approve, st.Project))
}

func (q govCall) listApprovals() *runtimeapi.Error {
	open, err := q.g.Approvals.Open(q.r.Context(), q.p.Tenant)
	if err != nil {
		q.g.Logger.Error("listing held jobs", "error", err)
		return runtimeapi.Errorf(http.StatusServiceUnavailable, "store_unavailable", "the gateway cannot list held jobs right now")
	}
	out := []ApprovalView{}
	for _, st := range open {
		if q.seesHold(st) {
			q.g.expire(q.r.Context(), st)
			out = append(out, q.view(st))
		}
	}
	runtimeapi.WriteJSON(q.w, http.StatusOK, map[string]any{"approvals": out, "count": len(out)})
	return nil
}

// deciderSteps are the pending steps of an undecided hold the caller
// may decide now, or why there are none.
func (q govCall) deciderSteps(st *approval.State, now time.Time) ([]int, *runtimeapi.Error) {
	if !q.access.InProject(rbac.Approve, st.Project) {
		return nil, runtimeapi.Errorf(http.StatusForbidden, "approval_not_allowed", fmt.Sprintf(
			"user %s may not decide jobs of project %s: it needs the permission job:approve for the project or the tenant", q.p.UserID, st.Project))
	}
	if st.Submitter.User == q.p.UserID && !q.g.Directory.Load().Settings(st.Tenant).AllowSelfApproval {
		return nil, runtimeapi.Errorf(http.StatusForbidden, "self_approval_not_allowed", fmt.Sprintf(
			"user %s submitted job %s and may not decide it (rule: the tenant setting allow_self_approval of %s)", q.p.UserID, st.ID, st.Tenant))
	}
	if len(st.Pending()) == 0 { // every step decided; the release is under way
		return nil, runtimeapi.Errorf(http.StatusConflict, "approval_already_decided", fmt.Sprintf("job %s was already approved and is being released", st.ID))
	}
	roles := q.access.RolesIn(st.Project)
	var mine []int
	for _, i := range st.Pending() {
		if st.MayDecide(i, now, q.p.UserID, q.p.Email, roles) {
			mine = append(mine, i)
		}
	}
	if len(mine) == 0 {
		return nil, runtimeapi.Errorf(http.StatusForbidden, "approval_not_allowed", fmt.Sprintf(
			"user %s (roles %s) is not an approver of job %s now: %s", q.p.UserID, strings.Join(roles, ", "), st.ID, st.Waiting(now)))
	}
	return mine, nil
}

// decide records an approver's decision. Each workflow step the
// approver may decide is decided; once every step has approved, the
// held request is forwarded, by whichever replica records the release.
func (q govCall) decide(st *approval.State, d *Decision) *runtimeapi.Error {
	g, ctx, now := q.g, q.r.Context(), q.g.Now()
	var req DecisionRequest
	body, rerr := readBody(q.r, 64<<10)
	if rerr != nil {
		return rerr
	}
	if err := runtimeapi.DecodeJSON(body, &req); err != nil {
		return err
	}
	d.Action = audit.ActionApprove
	switch req.Decision {
	case approval.Approve:
	case approval.Reject:
		d.Action = audit.ActionReject
	default:
		return runtimeapi.BadRequest("invalid_decision", "decision must be %q or %q, got %q", approval.Approve, approval.Reject, req.Decision)
	}
	d.rules = stepRules(st)
	d.Note = strings.TrimSpace(req.Comment)
	if st.Fate != nil {
		return alreadyDecided(st, now)
	}
	mine, err := q.deciderSteps(st, now)
	if err != nil {
		return err
	}
	dec := approval.Decision{Decision: req.Decision, By: q.p.UserID, Comment: d.Note, At: now.UTC()}
	for _, i := range mine {
		w := &st.Steps[i]
		dec.Tier, _ = w.Tier(st.Created, now)
		slot := ""
		if req.Decision == approval.Approve && w.MaxApprovalsPerDay > 0 {
			day := now.In(g.Directory.Load().Settings(st.Tenant).Location()).Format(time.DateOnly)
			var ok bool
			var err error
			if slot, ok, err = g.Approvals.TakeSlot(ctx, st.Tenant, w.Name, day, w.MaxApprovalsPerDay, st.ID); err != nil {
				return storeDown(st.ID, err, g)
			} else if !ok {
				return &runtimeapi.Error{Status: http.StatusTooManyRequests, Code: "approval_limit_reached", RetryAfter: untilMidnight(now, g.Directory.Load().Settings(st.Tenant).Location()),
					Message: fmt.Sprintf("workflow %s has granted its %d approvals for %s in tenant %s; it resets at midnight (rule: workflow %s max_approvals_per_day)",
						w.Name, w.MaxApprovalsPerDay, day, st.Tenant, w.Name)}
			}
		}
		won, err := g.Approvals.Decide(ctx, st.ID, i, dec)
		if err != nil || !won {
			if slot != "" {
				_ = g.Approvals.GiveBack(ctx, slot)
			}
			if err != nil {
				return storeDown(st.ID, err, g)
			}
			fresh, ferr := g.Approvals.Get(ctx, st.ID)
			if ferr != nil {
				return storeDown(st.ID, ferr, g)
			}
			if fresh.Fate != nil {
				return alreadyDecided(fresh, now)
			}
			return runtimeapi.Errorf(http.StatusConflict, "approval_already_decided", fmt.Sprintf(
				"workflow %s of job %s was decided meanwhile by %s (%s)", w.Name, st.ID, fresh.Decisions[i].By, fresh.Decisions[i].Decision))
		}
		st.Decisions[i] = dec
	}
	if req.Decision == approval.Reject {
		fate := approval.Fate{Fate: approval.Rejected, By: q.p.UserID, Comment: d.Note, At: now.UTC(), Node: g.Node}
		won, err := g.Approvals.Finish(ctx, st, fate)
		if err != nil {
			return storeDown(st.ID, err, g)
		}
		if !won {
			fresh, _ := g.Approvals.Get(ctx, st.ID)
			return alreadyDecided(fresh, now)
		}
		st.Fate = &fate
		g.endHold(ctx, st)
	} else if st.Approved() {
		g.release(ctx, st, q.p.UserID)
	}
	d.Outcome = "allowed"
	runtimeapi.WriteJSON(q.w, http.StatusOK, q.view(st))
	return nil
}

func storeDown(id string, err error, g *Gateway) *runtimeapi.Error {
	g.Logger.Error("recording an approval", "job", id, "error", err)
	return runtimeapi.Errorf(http.StatusServiceUnavailable, "store_unavailable", "the gateway cannot record a decision on job "+id+" right now; nothing was decided")
}

func alreadyDecided(st *approval.State, now time.Time) *runtimeapi.Error {
	if st == nil {
		return runtimeapi.Errorf(http.StatusConflict, "approval_already_decided", "the job was decided meanwhile")
	}
	what := st.Reason()
	if st.Fate.Fate == approval.Released {
		what = "approved and released by " + st.Fate.By
	}
	return runtimeapi.Errorf(http.StatusConflict, "approval_already_decided", fmt.Sprintf("job %s was already decided: %s", st.ID, what))
}

func untilMidnight(now time.Time, loc *time.Location) int {
	t := now.In(loc)
	next := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
	return int(next.Sub(now).Seconds()) + 1
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
		g.expire(ctx, st)
		if st.Upstream != nil && st.Upstream.JobID != "" {
			continue
		}
		doc, _ := json.Marshal(st.Job(g.Now()))
		out = append(out, doc)
	}
	slices.Reverse(out) // newest first, as the upstream lists
	return out
}
