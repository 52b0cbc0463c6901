package gateway

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/qgov/qgov/approval"
	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/org"
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

// DeciderSteps are the pending steps of an undecided hold the caller may
// decide now (access is the caller's in the organisation in force), or
// why there are none.
func (g *Gateway) DeciderSteps(p *identity.Principal, access org.Access, st *approval.State, now time.Time) ([]int, *denial.Denial) {
	if !access.InProject(rbac.Approve, st.Project) {
		return nil, denial.New("approval_not_allowed", fmt.Sprintf(
			"user %s may not decide jobs of project %s: it needs the permission job:approve for the project or the tenant", p.UserID, st.Project))
	}
	if st.Submitter.User == p.UserID && !g.Directory.Load().Settings(st.Tenant).AllowSelfApproval {
		return nil, denial.New("self_approval_not_allowed", fmt.Sprintf(
			"user %s submitted job %s and may not decide it (rule: the tenant setting allow_self_approval of %s)", p.UserID, st.ID, st.Tenant))
	}
	if len(st.Pending()) == 0 { // every step decided; the release is under way
		return nil, denial.New("approval_already_decided", fmt.Sprintf("job %s was already approved and is being released", st.ID))
	}
	roles := access.RolesIn(st.Project)
	var mine []int
	for _, i := range st.Pending() {
		if st.MayDecide(i, now, p.UserID, p.Email, roles) {
			mine = append(mine, i)
		}
	}
	if len(mine) == 0 {
		return nil, denial.New("approval_not_allowed", fmt.Sprintf(
			"user %s (roles %s) is not an approver of job %s now: %s", p.UserID, strings.Join(roles, ", "), st.ID, st.Waiting(now)))
	}
	return mine, nil
}

// Decide records an approver's decision on a hold: each workflow step
// the approver may decide is decided; a rejection ends the hold, and once
// every step has approved, the held request is forwarded, by whichever
// replica records the release. The decision d is what the request is
// audited as; st is updated.
func (g *Gateway) Decide(ctx context.Context, p *identity.Principal, access org.Access, st *approval.State, req DecisionRequest, d *Decision) *denial.Denial {
	now := g.Now()
	d.Action = audit.ActionApprove
	switch req.Decision {
	case approval.Approve:
	case approval.Reject:
		d.Action = audit.ActionReject
	default:
		return denial.Newf("invalid_decision", "decision must be %q or %q, got %q", approval.Approve, approval.Reject, req.Decision)
	}
	d.rules = stepRules(st)
	d.Note = strings.TrimSpace(req.Comment)
	if st.Fate != nil {
		return alreadyDecided(st, now)
	}
	mine, err := g.DeciderSteps(p, access, st, now)
	if err != nil {
		return err
	}
	dec := approval.Decision{Decision: req.Decision, By: p.UserID, Comment: d.Note, At: now.UTC()}
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
				return &denial.Denial{Code: "approval_limit_reached", RetryAfter: untilMidnight(now, g.Directory.Load().Settings(st.Tenant).Location()),
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
			return denial.New("approval_already_decided", fmt.Sprintf(
				"workflow %s of job %s was decided meanwhile by %s (%s)", w.Name, st.ID, fresh.Decisions[i].By, fresh.Decisions[i].Decision))
		}
		st.Decisions[i] = dec
	}
	if req.Decision == approval.Reject {
		fate := approval.Fate{Fate: approval.Rejected, By: p.UserID, Comment: d.Note, At: now.UTC(), Node: g.Node}
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
		g.release(ctx, st, p.UserID)
	}
	d.Outcome = "allowed"
	return nil
}

func storeDown(id string, err error, g *Gateway) *denial.Denial {
	g.Logger.Error("recording an approval", "job", id, "error", err)
	return denial.New("store_unavailable", "the gateway cannot record a decision on job "+id+" right now; nothing was decided")
}

func alreadyDecided(st *approval.State, now time.Time) *denial.Denial {
	if st == nil {
		return denial.New("approval_already_decided", "the job was decided meanwhile")
	}
	what := st.Reason()
	if st.Fate.Fate == approval.Released {
		what = "approved and released by " + st.Fate.By
	}
	return denial.New("approval_already_decided", fmt.Sprintf("job %s was already decided: %s", st.ID, what))
}

func untilMidnight(now time.Time, loc *time.Location) int {
	t := now.In(loc)
	next := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
	return int(next.Sub(now).Seconds()) + 1
}
