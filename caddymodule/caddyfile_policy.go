package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/qgov/qgov/policy"
)

// parsePolicy reads (write conditions in backquotes):
//
//	policy <name> {
//	    condition `<expr>`
//	    action    block|modify|notify|require_approval
//	    message   <text>
//	    mode      enforce|audit
//	    disabled
//	    tenant    <tenant>
//	    actions   <Runtime API action...>
//	    modify    <field> <value...>
//	    notify    role|user|channel <name>
//	    workflow  <name>
//	}
func parsePolicy(d *caddyfile.Dispenser) (policy.Policy, error) {
	p := policy.Policy{Source: source(d)}
	var err error
	p.Name, err = nameAndBlock(d, func(sub string) error {
		var err error
		switch sub {
		case "condition":
			p.Condition, err = oneArg(d)
		case "action":
			p.Action, err = oneArg(d)
		case "message":
			p.Message, err = oneArg(d)
		case "mode":
			p.Mode, err = oneArg(d)
		case "disabled":
			off := false
			p.Enabled = &off
		case "tenant":
			p.Tenant, err = oneArg(d)
		case "actions":
			p.Actions = append(p.Actions, d.RemainingArgs()...)
		case "workflow":
			p.Workflow, err = oneArg(d)
		case "notify":
			var t policy.Target
			t, err = parseTarget(d, true)
			p.Notify = append(p.Notify, t)
		case "modify":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.ArgErr()
			}
			if p.Modifications == nil {
				p.Modifications = map[string]any{}
			}
			p.Modifications[args[0]] = modValue(args[0], args[1:])
		default:
			return d.Errf("unrecognized policy option %q", sub)
		}
		return err
	})
	return p, err
}

// modValue types a modification's value as its field needs.
func modValue(field string, args []string) any {
	switch field {
	case "tags":
		out := make([]any, len(args))
		for i, a := range args {
			out[i] = a
		}
		return out
	case "shots":
		if n, err := strconv.Atoi(args[0]); err == nil {
			return n
		}
	case "max_execution_time":
		if f, err := strconv.ParseFloat(args[0], 64); err == nil {
			return f
		}
	case "private":
		if b, err := strconv.ParseBool(args[0]); err == nil {
			return b
		}
	}
	return args[0] // checked, with the field's name, when the policies compile
}

// parseTarget reads role|user|channel <name>.
func parseTarget(d *caddyfile.Dispenser, channel bool) (policy.Target, error) {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return policy.Target{}, d.ArgErr()
	}
	switch {
	case args[0] == "role":
		return policy.Target{Role: args[1]}, nil
	case args[0] == "user":
		return policy.Target{User: args[1]}, nil
	case args[0] == "channel" && channel:
		return policy.Target{Channel: args[1]}, nil
	}
	return policy.Target{}, d.Errf("%q: name a role or a user (or, to notify, a channel)", args[0])
}

// parseWorkflow reads:
//
//	workflow <name> {
//	    trigger               `<expr>`
//	    approvers             role|user <name>
//	    timeout_hours         <hours>
//	    on_timeout            reject|escalate
//	    escalate_to           role|user <name>
//	    auto_approve_for      role|user <name>
//	    max_approvals_per_day <n>
//	    notify                submitter|approvers|<channel>...
//	    tenant                <tenant>
//	}
func parseWorkflow(d *caddyfile.Dispenser) (policy.Workflow, error) {
	w := policy.Workflow{Source: source(d)}
	var err error
	w.Name, err = nameAndBlock(d, func(sub string) error {
		var err error
		var t policy.Target
		switch sub {
		case "trigger":
			w.Trigger.Condition, err = oneArg(d)
		case "approvers":
			t, err = parseTarget(d, false)
			w.Approvers = append(w.Approvers, t)
		case "escalate_to":
			t, err = parseTarget(d, false)
			w.EscalateTo = append(w.EscalateTo, t)
		case "auto_approve_for":
			t, err = parseTarget(d, false)
			w.AutoApproveFor = append(w.AutoApproveFor, t)
		case "timeout_hours":
			var s string
			if s, err = oneArg(d); err == nil {
				if w.TimeoutHours, err = strconv.ParseFloat(s, 64); err != nil || w.TimeoutHours <= 0 {
					return d.Errf("timeout_hours: %q is not a positive number of hours", s)
				}
			}
		case "on_timeout":
			w.OnTimeout, err = oneArg(d)
		case "max_approvals_per_day":
			return intArg(d, &w.MaxApprovalsPerDay)
		case "notify":
			w.Notify = append(w.Notify, d.RemainingArgs()...)
		case "tenant":
			w.Tenant, err = oneArg(d)
		default:
			return d.Errf("unrecognized workflow option %q", sub)
		}
		return err
	})
	return w, err
}

// loadPolicyFiles reads policy_file <file...>: IBM's enterprise-governance policies.yaml
// and approval-workflow.yaml forms (see policy.File).
func loadPolicyFiles(d *caddyfile.Dispenser, app *App) error {
	return eachFile(d, func(f string) error {
		pf, err := policy.LoadFile(f)
		if err != nil {
			return d.Errf("policy_file: %v", err)
		}
		for _, p := range pf.Policies {
			p.Source = f
			app.Policies = append(app.Policies, p)
		}
		for _, w := range pf.Workflows {
			w.Source = f
			app.Workflows = append(app.Workflows, w)
		}
		return nil
	})
}
