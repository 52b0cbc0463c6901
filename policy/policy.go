// Package policy is qgov's policy engine: rules written in the expr
// language (https://expr-lang.org) over a documented environment of the
// request (see Env), compiled once when the configuration loads and
// evaluated on every request they apply to, and the approval workflows
// that hold a job for a person's decision.
//
// Combination: every enabled policy whose tenant and actions cover the
// request is evaluated, in declaration order, against the request as the
// client sent it. Then
//
//   - any matching block policy refuses the request (403, the first
//     one's message; every blocking policy is named in the audit record);
//   - otherwise the modifications of matching modify policies are applied
//     in declaration order (a later policy's value for the same field
//     wins), and the job is admitted against limits and budgets as
//     modified;
//   - the workflows of matching require_approval policies, and the
//     workflows whose own trigger matches, hold the job until each has
//     approved it;
//   - matching notify policies announce the job and what was decided.
//
// A policy in audit mode is evaluated and recorded but does not act. An
// evaluation error (a runtime error, an exhausted memory budget, a
// panic) refuses the request, naming the policy, and is audited: a
// policy that cannot be evaluated never lets a request through unseen.
package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

// Actions a policy takes when its condition holds.
const (
	// ActionBlock refuses the request with the policy's message.
	ActionBlock = "block"
	// ActionModify rewrites fields of the forwarded job.
	ActionModify = "modify"
	// ActionNotify announces the request to roles, users and channels.
	ActionNotify = "notify"
	// ActionRequireApproval holds the job for a workflow's approvers.
	ActionRequireApproval = "require_approval"
)

// Modes of a policy.
const (
	// ModeEnforce acts on the decision (default).
	ModeEnforce = "enforce"
	// ModeAudit records the decision and does not act on it.
	ModeAudit = "audit"
)

// Policy is one rule.
type Policy struct {
	// Name identifies the policy in denials, audit records and tests.
	Name string `json:"name" yaml:"name"`
	// Tenant limits the policy to one tenant; empty applies it to all.
	Tenant string `json:"tenant,omitempty" yaml:"tenant"`
	// Enabled turns the policy on or off. Default true.
	Enabled *bool `json:"enabled,omitempty" yaml:"enabled"`
	// Mode is "enforce" (default) or "audit".
	Mode string `json:"mode,omitempty" yaml:"mode"`
	// Actions are the Runtime API actions the policy is evaluated for,
	// for example quantum-computing.job.create (the default) or
	// quantum-computing.job.delete.
	Actions []string `json:"actions,omitempty" yaml:"actions"`
	// Condition is an expr expression over Env that yields a boolean.
	Condition string `json:"condition" yaml:"condition"`
	// Action is block, modify, notify or require_approval.
	Action string `json:"action" yaml:"action"`
	// Message is what a block tells the caller, and a notification's
	// text. Default: a sentence naming the policy.
	Message string `json:"message,omitempty" yaml:"message"`
	// Modifications are the job fields a modify policy sets (see
	// Modifiable).
	Modifications map[string]any `json:"modifications,omitempty" yaml:"modifications"`
	// Notify lists who a notify policy tells: roles, users and channels.
	Notify []Target `json:"notify,omitempty" yaml:"notify"`
	// Workflow names the workflow a require_approval policy starts.
	Workflow string `json:"workflow,omitempty" yaml:"workflow"`
	// Source is where the policy was declared, named in errors.
	Source string `json:"source,omitempty" yaml:"-"`
}

// Target is a role, a user or a notification channel; exactly one is
// set. In workflows Submitter and Approvers name those people.
type Target struct {
	Role    string `json:"role,omitempty" yaml:"role"`
	User    string `json:"user,omitempty" yaml:"user"`
	Channel string `json:"channel,omitempty" yaml:"channel"`
}

func (t Target) String() string {
	switch {
	case t.Role != "":
		return "role " + t.Role
	case t.User != "":
		return "user " + t.User
	}
	return "channel " + t.Channel
}

func (t Target) check(what string, allowChannel bool) error {
	n := 0
	for _, s := range []string{t.Role, t.User, t.Channel} {
		if s != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return fmt.Errorf("%s: each entry names exactly one of role, user or channel", what)
	case t.Channel != "" && !allowChannel:
		return fmt.Errorf("%s: a channel cannot be %s", what, strings.TrimSuffix(what, "s"))
	}
	return nil
}

// On reports whether the policy is enabled.
func (p *Policy) On() bool { return p.Enabled == nil || *p.Enabled }

// validate checks everything but the condition, and fills defaults.
func (p *Policy) validate(workflows map[string]*Workflow) error {
	var errs []error
	if p.Mode == "" {
		p.Mode = ModeEnforce
	}
	if len(p.Actions) == 0 {
		p.Actions = []string{string(runtimeapi.ActionJobCreate)}
	}
	if p.Mode != ModeEnforce && p.Mode != ModeAudit {
		errs = append(errs, fmt.Errorf("mode %q: use %q or %q", p.Mode, ModeEnforce, ModeAudit))
	}
	if strings.TrimSpace(p.Condition) == "" {
		errs = append(errs, errors.New("a condition is required"))
	}
	for _, a := range p.Actions {
		if !slices.Contains(runtimeapi.Actions, runtimeapi.Action(a)) {
			errs = append(errs, fmt.Errorf("actions: %q is not a Runtime API action", a))
		}
	}
	jobOnly := !slices.ContainsFunc(p.Actions, func(a string) bool { return a != string(runtimeapi.ActionJobCreate) })
	switch p.Action {
	case ActionBlock, ActionNotify:
	case ActionModify:
		if len(p.Modifications) == 0 {
			errs = append(errs, errors.New("a modify policy needs modifications"))
		}
		for field, v := range p.Modifications {
			if err := checkModification(field, v); err != nil {
				errs = append(errs, err)
			}
		}
	case ActionRequireApproval:
		if workflowFor(workflows, p.Tenant, p.Workflow) == nil {
			errs = append(errs, fmt.Errorf("workflow %q is not declared for tenant %q or every tenant", p.Workflow, p.Tenant))
		}
	default:
		errs = append(errs, fmt.Errorf("action %q: use block, modify, notify or require_approval", p.Action))
	}
	if (p.Action == ActionModify || p.Action == ActionRequireApproval) && !jobOnly {
		errs = append(errs, fmt.Errorf("a %s policy applies to job submissions only (actions: %s)", p.Action, runtimeapi.ActionJobCreate))
	}
	if p.Action == ActionNotify && len(p.Notify) == 0 {
		errs = append(errs, errors.New("a notify policy needs notify targets"))
	}
	for _, t := range p.Notify {
		if err := t.check("notify", true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
