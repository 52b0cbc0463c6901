package govapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/qgov/qgov/approval"
	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/rbac"
)

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
		_, err := q.g.DeciderSteps(q.p, q.access, st, now)
		v.MayDecide = err == nil
	}
	return v
}

// approval serves one hold: GET shows it, POST decides it
// ({"decision": "approve"|"reject", "comment": "…"}).
func (q govCall) approval(d *gateway.Decision) *denial.Denial {
	g := q.g
	if g.Approvals == nil {
		return noApprovals
	}
	id := q.r.PathValue("job_id")
	d.SetResource(audit.Resource{Type: "quantum_job", ID: id})
	st, err := g.Approvals.Get(q.r.Context(), id)
	switch {
	case errors.Is(err, approval.ErrNotFound), err == nil && !q.seesHold(st):
		return gateway.NotFound("job", id)
	case err != nil:
		g.Logger.Error("reading a held job", "job", id, "error", err)
		return denial.New("store_unavailable", "the gateway cannot read held job "+id+" right now")
	}
	d.Project, d.Instance = st.Project, st.Instance
	d.SetSubject(st.Submitter.User)
	g.Expire(q.r.Context(), st)
	if q.r.Method == http.MethodPost {
		return q.decide(st, d)
	}
	runtimeapi.WriteJSON(q.w, http.StatusOK, q.view(st))
	return nil
}

// noApprovals answers the approvals API of a gateway that holds no jobs.
var noApprovals = denial.New("approvals_not_configured", "this gateway holds no jobs for approval")

// decide reads an approver's decision and has the gateway record it.
func (q govCall) decide(st *approval.State, d *gateway.Decision) *denial.Denial {
	var req gateway.DecisionRequest
	body, err := gateway.ReadBody(q.r, 64<<10)
	if err != nil {
		return err
	}
	if err := runtimeapi.DecodeJSON(body, &req); err != nil {
		return err
	}
	if err := q.g.Decide(q.r.Context(), q.p, q.access, st, req, d); err != nil {
		return err
	}
	runtimeapi.WriteJSON(q.w, http.StatusOK, q.view(st))
	return nil
}

// seesHold: the submitter, and whoever may approve in its project.
func (q govCall) seesHold(st *approval.State) bool {
	return st.Tenant == q.p.Tenant && (st.Submitter.User == q.p.UserID || q.access.InProject(rbac.Approve, st.Project))
}

// listApprovals lists the caller's tenant's open holds they may decide
// or submitted.
func (q govCall) listApprovals() *denial.Denial {
	if q.g.Approvals == nil {
		return noApprovals
	}
	open, err := q.g.Approvals.Open(q.r.Context(), q.p.Tenant)
	if err != nil {
		q.g.Logger.Error("listing held jobs", "error", err)
		return denial.New("store_unavailable", "the gateway cannot list held jobs right now")
	}
	out := []ApprovalView{}
	for _, st := range open {
		if q.seesHold(st) {
			q.g.Expire(q.r.Context(), st)
			out = append(out, q.view(st))
		}
	}
	runtimeapi.WriteJSON(q.w, http.StatusOK, map[string]any{"approvals": out, "count": len(out)})
	return nil
}
