package gateway

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/notify"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/policy"
)

// env is what policies see of a request; job fields stay zero for
// requests that submit no job.
func (g *Gateway) env(q *request) *policy.Env {
	e := &policy.Env{User: q.p.UserID, Email: q.p.Email, Tenant: q.p.Tenant, Project: q.d.Project, Instance: q.in.Alias,
		KeyID: q.p.KeyID, Action: string(q.route.Action), Priority: "normal", RemainingBudgetUSD: -1, Tags: map[string]any{},
		Roles: q.roles(q.d.Project)}
	if ip := g.ClientIP(q.r); ip.IsValid() {
		e.ClientIP = ip.String()
	}
	e.SetTime(g.Now(), g.Directory.Load().Settings(q.p.Tenant).Location())
	return e
}

// roles names the caller's roles in a project.
func (q *request) roles(project string) []string {
	pa := q.reach.Project(project)
	if pa == nil {
		return []string{}
	}
	out := make([]string, len(pa.Roles))
	for i, r := range pa.Roles {
		out[i] = r.Name
	}
	return out
}

// jobEnv adds a submission's facts to env.
func jobEnv(e *policy.Env, sub *runtimeapi.Submission, priority bool) {
	e.Program, e.Backend, e.Simulator, e.Shots, e.Pubs = sub.ProgramID, sub.Backend, runtimeapi.IsSimulator(sub.Backend), sub.Shots, len(sub.Pubs)
	e.Session, e.Tags = sub.SessionID, policy.Tags(sub.Tags)
	for _, p := range sub.Pubs {
		e.Qubits, e.Depth = max(e.Qubits, p.Facts.NumQubits), max(e.Depth, p.Facts.Depth)
	}
	if priority {
		e.Priority = "high"
	}
}

// checkPolicies is the policy step of a request that submits no job:
// block and notify policies written for its action.
func (g *Gateway) checkPolicies(q *request) *denial.Denial {
	if !g.Policies.Load().Applies(q.p.Tenant, string(q.route.Action)) {
		return nil
	}
	env := g.env(q)
	_, err := g.evaluatePolicies(q, env)
	return err
}

// evaluatePolicies evaluates the policies against env and applies what is
// decided for any request: an evaluation error or a block refuses it,
// audit-mode matches are noted, and notices are sent. What else the
// result holds (modifications, workflows) is the job step's to apply.
func (g *Gateway) evaluatePolicies(q *request, env *policy.Env) (policy.Result, *denial.Denial) {
	start := time.Now()
	defer g.observe(q.r.Context(), StepPolicies, start)
	r := g.Policies.Load().Evaluate(env)
	q.d.rules = append(q.d.rules, r.RuleIDs()...)
	for _, p := range r.Audited {
		q.d.note(fmt.Sprintf("policy %s (audit mode) would %s", p.Name, p.Action))
	}
	for _, e := range r.AuditErrors {
		q.d.note(fmt.Sprintf("%s (audit mode) could not be evaluated: %v", e.Rule, e.Err))
	}
	if r.Err != nil {
		g.Logger.Error("a policy could not be evaluated; the request is refused", "rule", r.Err.Rule, "error", r.Err.Err)
		g.auditEvent(q.r.Context(), &audit.Record{Action: audit.ActionPolicyError, Outcome: audit.Failure, TenantID: q.p.Tenant,
			UserID: q.p.UserID, Project: q.d.Project, Instance: q.in.Alias, TraceID: q.d.Trace, RuleIDs: []string{r.Err.Rule},
			Resource: audit.Resource{Type: "policy", ID: strings.TrimPrefix(r.Err.Rule, "policy/")}, Note: r.Err.Err.Error()})
		return r, denial.New("policy_error", fmt.Sprintf(
			"%s could not be evaluated for this request, so it is refused (rule: %s; the error is in the audit trail, trace %s)",
			r.Err.Rule, r.Err.Rule, q.d.Trace))
	}
	g.announce(q, env, r)
	if r.Block != nil {
		msg := r.Block.Message
		if msg == "" {
			msg = "this request is blocked by a policy"
		}
		return r, denial.New("policy_blocked", fmt.Sprintf("%s (rule: policy %s, tenant %s)",
			msg, r.Block.Name, orAll(r.Block.Tenant)))
	}
	return r, nil
}

func orAll(tenant string) string {
	if tenant == "" {
		return "all tenants"
	}
	return tenant
}

// announce sends the notices of matching notify policies: channels by
// name, roles and users through the tenant's notification channels.
func (g *Gateway) announce(q *request, env *policy.Env, r policy.Result) {
	if g.Notify == nil {
		return
	}
	for _, p := range r.Notices {
		var chans, people []string
		for _, t := range p.Notify {
			if t.Channel != "" {
				chans = append(chans, t.Channel)
			} else {
				people = append(people, t.String())
			}
		}
		if len(people) > 0 {
			chans = append(chans, g.Directory.Load().Settings(q.p.Tenant).NotificationChannels...)
		}
		text := p.Message
		if text == "" {
			text = fmt.Sprintf("Policy %s matched: %s by %s in project %s on %s (backend %s, %d shots, estimated USD %.2f).",
				p.Name, env.Action, env.User, env.Project, env.Instance, orNone(env.Backend), env.Shots, env.EstimatedCostUSD)
		}
		if r.Block != nil {
			text += fmt.Sprintf(" It was blocked by policy %s.", r.Block.Name)
		}
		g.Notify.Send(q.r.Context(), dedupe(chans), notify.Message{Event: "qgov.policy.notify", Tenant: q.p.Tenant, Text: text,
			Recipients: people, Data: map[string]any{"policy": p.Name, "user": env.User, "project": env.Project,
				"instance": env.Instance, "backend": env.Backend, "shots": env.Shots, "estimated_cost_usd": env.EstimatedCostUSD,
				"trace": q.d.Trace}})
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// NotifyFailed records a notification that could not be delivered: the
// dead letter. It fails when the audit trail cannot take the record.
func (g *Gateway) NotifyFailed(channel string, m notify.Message, err error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return g.auditEvent(ctx, &audit.Record{Action: audit.ActionNotifyFailed, Outcome: audit.Failure, TenantID: m.Tenant,
		InitiatorAuthnName: "notify", Resource: audit.Resource{Type: "notification_channel", ID: channel},
		Note: fmt.Sprintf("%s message %s not delivered: %v", m.Event, m.ID, err)})
}

// modify applies the modifications policies decided to a job
// submission: the forwarded body changes, and the submission is read
// again from it.
func (g *Gateway) modify(q *request, r policy.Result) (*runtimeapi.Submission, *denial.Denial) {
	names := make([]string, len(r.Modifiers))
	for i, p := range r.Modifiers {
		names[i] = p.Name
	}
	fail := func(err error) *denial.Denial {
		return denial.New("policy_modification_failed", fmt.Sprintf(
			"policies %s could not modify this job: %v (rule: policy %s)", strings.Join(names, ", "), err, names[len(names)-1]))
	}
	body, err := policy.Apply(q.body, r.Modifications, func() (string, error) { return simulatorOf(q.in) })
	if err != nil {
		return nil, fail(err)
	}
	sub, derr := runtimeapi.DecodeSubmission(body, g.Circuits)
	if derr != nil {
		return nil, fail(fmt.Errorf("%s", derr.Message))
	}
	q.body = body
	q.d.note(fmt.Sprintf("modified by policy %s: %s", strings.Join(names, ", "), describe(r.Modifications, sub)))
	return sub, nil
}

// describe lists modifications as the job now has them.
func describe(mods map[string]any, sub *runtimeapi.Submission) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(mods)) {
		v := fmt.Sprint(mods[k])
		if k == "backend" {
			v = sub.Backend
		}
		parts = append(parts, k+" → "+v)
	}
	return strings.Join(parts, ", ")
}

// simulatorOf names an instance's first simulator backend.
func simulatorOf(in *org.Instance) (string, error) {
	for _, b := range in.Backends {
		if runtimeapi.IsSimulator(b) {
			return b, nil
		}
	}
	return "", fmt.Errorf("instance %s lists no simulator among its backends (%s)", in.Alias, strings.Join(in.Backends, ", "))
}
