package policy

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Timeout outcomes of a workflow.
const (
	// OnTimeoutReject ends a job nobody decided in time as Cancelled.
	OnTimeoutReject = "reject"
	// OnTimeoutEscalate hands it to the next tier of approvers
	// (EscalateTo) for another TimeoutHours; the last tier rejects.
	OnTimeoutEscalate = "escalate"
)

// Notification recipients of a workflow besides channel names.
const (
	NotifySubmitter = "submitter"
	NotifyApprovers = "approvers"
)

// DefaultTimeoutHours is how long a held job waits for a decision when a
// workflow names no timeout_hours.
const DefaultTimeoutHours = 24

// Workflow holds a job until approvers decide, as in IBM's enterprise-governance model.
type Workflow struct {
	// Name identifies the workflow; policies start it by this name.
	Name string `json:"name" yaml:"-"`
	// Tenant limits the workflow's own trigger to one tenant; empty
	// applies it to all.
	Tenant string `json:"tenant,omitempty" yaml:"tenant"`
	// Trigger holds a job when its condition (an expr expression over
	// Env, like a policy's) is true; without one the workflow starts only
	// from require_approval policies.
	Trigger Trigger `json:"trigger,omitempty" yaml:"trigger"`
	// Approvers are the roles and users who may decide. A decider must
	// also hold job:approve over the job's project.
	Approvers []Target `json:"approvers" yaml:"approvers"`
	// TimeoutHours is how long each tier has to decide. Default 24.
	TimeoutHours float64 `json:"timeout_hours,omitempty" yaml:"timeout_hours"`
	// OnTimeout is "reject" (default) or "escalate".
	OnTimeout string `json:"on_timeout,omitempty" yaml:"on_timeout"`
	// EscalateTo is the next tier of approvers when OnTimeout is
	// escalate. Default: role admin.
	EscalateTo []Target `json:"escalate_to,omitempty" yaml:"escalate_to"`
	// AutoApproveFor approves at once the jobs of submitters holding one
	// of these roles (or being one of these users).
	AutoApproveFor []Target `json:"auto_approve_for,omitempty" yaml:"auto_approve_for"`
	// MaxApprovalsPerDay bounds the approvals granted under this workflow
	// per tenant and day (in the tenant's time zone); 0 is unbounded.
	MaxApprovalsPerDay int `json:"max_approvals_per_day,omitempty" yaml:"max_approvals_per_day"`
	// Notify names who hears of a held job and its outcome: "submitter",
	// "approvers" and notification channel names.
	Notify []string `json:"notify,omitempty" yaml:"notify"`
	// Source is where the workflow was declared, named in errors.
	Source string `json:"source,omitempty" yaml:"-"`
}

// Trigger is a workflow's condition.
type Trigger struct {
	Condition string `json:"condition,omitempty" yaml:"condition"`
}

// Timeout is how long each tier has to decide.
func (w *Workflow) Timeout() time.Duration {
	return time.Duration(w.TimeoutHours * float64(time.Hour))
}

// Tiers are the successive groups of approvers: Approvers, then, when
// the workflow escalates, EscalateTo.
func (w *Workflow) Tiers() [][]Target {
	if w.OnTimeout == OnTimeoutEscalate {
		return [][]Target{w.Approvers, w.EscalateTo}
	}
	return [][]Target{w.Approvers}
}

// Tier is the tier deciding at now for a job held at created, and false
// when every tier's time is up.
func (w *Workflow) Tier(created, now time.Time) (int, bool) {
	k := int(now.Sub(created) / w.Timeout())
	return k, k < len(w.Tiers())
}

// Deadline is when the last tier's time is up.
func (w *Workflow) Deadline(created time.Time) time.Time {
	return created.Add(time.Duration(len(w.Tiers())) * w.Timeout())
}

// Matches reports whether a person with these roles (in the job's
// project) or this user id or email is one of targets.
func Matches(targets []Target, user, email string, roles []string) bool {
	return slices.ContainsFunc(targets, func(t Target) bool {
		return (t.Role != "" && slices.Contains(roles, t.Role)) ||
			(t.User != "" && (t.User == user || (email != "" && t.User == email)))
	})
}

func (w *Workflow) validate() error {
	var errs []error
	if w.TimeoutHours == 0 {
		w.TimeoutHours = DefaultTimeoutHours
	}
	if w.OnTimeout == "" {
		w.OnTimeout = OnTimeoutReject
	}
	if w.OnTimeout == OnTimeoutEscalate && len(w.EscalateTo) == 0 {
		w.EscalateTo = []Target{{Role: "admin"}}
	}
	if w.TimeoutHours < 0 {
		errs = append(errs, errors.New("timeout_hours must be positive"))
	}
	if w.OnTimeout != OnTimeoutReject && w.OnTimeout != OnTimeoutEscalate {
		errs = append(errs, fmt.Errorf("on_timeout %q: use %q or %q", w.OnTimeout, OnTimeoutReject, OnTimeoutEscalate))
	}
	if w.MaxApprovalsPerDay < 0 {
		errs = append(errs, errors.New("max_approvals_per_day must not be negative"))
	}
	if len(w.Approvers) == 0 {
		errs = append(errs, errors.New("approvers: at least one role or user is required"))
	}
	for _, group := range []struct {
		what    string
		targets []Target
	}{{"approvers", w.Approvers}, {"escalate_to", w.EscalateTo}, {"auto_approve_for", w.AutoApproveFor}} {
		for _, t := range group.targets {
			if err := t.check(group.what, false); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// TenantApprovalName names the workflow of the tenant setting
// require_job_approval.
const TenantApprovalName = "tenant_approval"

// TenantApproval is the workflow a tenant's require_job_approval starts
// for jobs estimated at threshold USD or more: a team lead or an admin
// of the project decides within 24 hours, or the job is rejected.
func TenantApproval(threshold float64) Workflow {
	return Workflow{Name: TenantApprovalName, Trigger: Trigger{Condition: fmt.Sprintf("estimated_cost_usd >= %g", threshold)},
		Approvers: []Target{{Role: "team_lead"}, {Role: "admin"}}, TimeoutHours: DefaultTimeoutHours, OnTimeout: OnTimeoutReject,
		Notify: []string{NotifySubmitter, NotifyApprovers}}
}
