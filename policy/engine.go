package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Current holds the policy set in force; a change through the governance
// API compiles a whole new Set and stores it.
type Current = atomic.Pointer[Set]

// NewCurrent returns a Current holding s.
func NewCurrent(s *Set) *Current {
	c := new(Current)
	c.Store(s)
	return c
}

// Set is a compiled set of policies and workflows, ready to evaluate.
type Set struct {
	policies  []compiled
	workflows map[string]*compiledWorkflow
	// order lists the workflows in declaration order.
	order []string
	// budget is true when a condition mentions remaining_budget_usd,
	// which costs a store read to fill.
	budget bool
}

type compiled struct {
	*Policy
	program *vm.Program
	// workflow is the workflow a require_approval policy starts.
	workflow *Workflow
}

type compiledWorkflow struct {
	*Workflow
	program *vm.Program // nil without a trigger
}

// Compile checks and compiles policies and workflows. Every problem is
// reported, each naming its policy or workflow; a condition's error
// names its line and column.
func Compile(policies []Policy, workflows []Workflow) (*Set, error) {
	s := &Set{workflows: map[string]*compiledWorkflow{}}
	var errs []error
	byName := map[string]*Workflow{}
	for i := range workflows {
		w := workflows[i]
		key := scopedName(w.Tenant, w.Name)
		switch {
		case w.Name == "":
			errs = append(errs, errors.New("workflow: a name is required"))
			continue
		case byName[key] != nil:
			errs = append(errs, fmt.Errorf("%s: declared twice", describe("workflow", w.Tenant, w.Name)))
			continue
		}
		byName[key] = &w
		cw := &compiledWorkflow{Workflow: &w}
		if err := w.validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", describe("workflow", w.Tenant, w.Name), err))
		}
		if w.Trigger.Condition != "" {
			p, err := compile(w.Trigger.Condition)
			if err != nil {
				errs = append(errs, &CompileError{Kind: "workflow", Name: w.Name, Err: err})
			}
			cw.program = p
			s.budget = s.budget || strings.Contains(w.Trigger.Condition, "remaining_budget_usd")
		}
		s.workflows[key] = cw
		s.order = append(s.order, key)
	}
	seen := map[string]bool{}
	for i := range policies {
		p := policies[i]
		key := scopedName(p.Tenant, p.Name)
		switch {
		case p.Name == "":
			errs = append(errs, fmt.Errorf("policy #%d: a name is required", i+1))
			continue
		case seen[key]:
			errs = append(errs, fmt.Errorf("%s: declared twice", describe("policy", p.Tenant, p.Name)))
			continue
		}
		seen[key] = true
		if err := p.validate(byName); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", describe("policy", p.Tenant, p.Name), err))
			continue
		}
		prog, err := compile(p.Condition)
		if err != nil {
			errs = append(errs, &CompileError{Kind: "policy", Name: p.Name, Err: err})
			continue
		}
		c := compiled{Policy: &p, program: prog}
		if p.Action == ActionRequireApproval {
			c.workflow = workflowFor(byName, p.Tenant, p.Workflow)
		}
		s.policies = append(s.policies, c)
		s.budget = s.budget || strings.Contains(p.Condition, "remaining_budget_usd")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Policies and workflows are named within their tenant: two tenants may
// each have a policy of one name, and a policy of every tenant (declared
// in configuration without a tenant) may share a name with a tenant's.

// scopedName keys a policy or workflow by its tenant and name.
func scopedName(tenant, name string) string { return tenant + "/" + name }

// describe names a policy or workflow in errors.
func describe(kind, tenant, name string) string {
	if tenant == "" {
		return fmt.Sprintf("%s %q", kind, name)
	}
	return fmt.Sprintf("%s %q of tenant %s", kind, name, tenant)
}

// workflowFor finds the workflow a policy of a tenant starts: the one
// every tenant shares, else the tenant's own of that name. A shared
// workflow comes first, so that a tenant cannot put its own workflow (one
// that approves itself, say) behind a policy the configuration wrote.
func workflowFor(byName map[string]*Workflow, tenant, name string) *Workflow {
	if w := byName[scopedName("", name)]; w != nil {
		return w
	}
	return byName[scopedName(tenant, name)]
}

// ReadsBudget reports whether a condition reads remaining_budget_usd.
func (s *Set) ReadsBudget() bool { return s != nil && s.budget }

// Workflows lists the workflows in declaration order.
func (s *Set) Workflows() []*Workflow {
	out := make([]*Workflow, len(s.order))
	for i, key := range s.order {
		out[i] = s.workflows[key].Workflow
	}
	return out
}

// Policies lists the policies in declaration order.
func (s *Set) Policies() []*Policy {
	out := make([]*Policy, len(s.policies))
	for i, p := range s.policies {
		out[i] = p.Policy
	}
	return out
}

// Match is a policy or workflow whose condition held.
type Match struct {
	// Policy is the matching policy; nil for a workflow's own trigger.
	Policy *Policy
	// Workflow is the workflow a match starts, if any.
	Workflow *Workflow
}

// Name is "policy/<name>" or "workflow/<name>", as audit records name
// rules.
func (m Match) Name() string {
	if m.Policy != nil {
		return "policy/" + m.Policy.Name
	}
	return "workflow/" + m.Workflow.Name
}

// EvalError is a condition that could not be evaluated.
type EvalError struct {
	Rule string
	Err  error
}

func (e *EvalError) Error() string { return fmt.Sprintf("%s: %v", e.Rule, e.Err) }

func (e *EvalError) Unwrap() error { return e.Err }

// Result is what the policies decided about one request.
type Result struct {
	// Err is the first evaluation error; the request is refused.
	Err *EvalError
	// Block is the first enforced block that matched, Blocks every one.
	Block  *Policy
	Blocks []*Policy
	// Modifications merges the enforced modify policies' fields, and
	// Modifiers names them.
	Modifications map[string]any
	Modifiers     []*Policy
	// Notices are the enforced notify policies that matched.
	Notices []*Policy
	// Workflows hold the job, each once, in the order they matched.
	Workflows []*Workflow
	// Audited are audit-mode policies that matched: recorded, not acted on.
	Audited []*Policy
	// AuditErrors are audit-mode policies that could not be evaluated:
	// recorded, not acted on.
	AuditErrors []*EvalError
	// Matched is every match, for the audit record.
	Matched []Match
}

// RuleIDs names every matched rule, and the failed one.
func (r *Result) RuleIDs() []string {
	out := make([]string, 0, len(r.Matched)+1)
	for _, m := range r.Matched {
		out = append(out, m.Name())
	}
	if r.Err != nil {
		out = append(out, r.Err.Rule)
	}
	return out
}

// Applies reports whether any policy or workflow trigger could apply to
// an action in a tenant, so requests no rule covers skip evaluation.
func (s *Set) Applies(tenant, action string) bool {
	if s == nil {
		return false
	}
	for _, p := range s.policies {
		if p.On() && (p.Tenant == "" || p.Tenant == tenant) && slices.Contains(p.Actions, action) {
			return true
		}
	}
	if action != "quantum-computing.job.create" {
		return false
	}
	for _, w := range s.workflows {
		if w.program != nil && (w.Tenant == "" || w.Tenant == tenant) {
			return true
		}
	}
	return false
}

// Evaluate runs every applicable policy, then every workflow trigger,
// against env. An evaluation error stops it: the result carries Err and
// the request is to be refused.
func (s *Set) Evaluate(env *Env) Result {
	var r Result
	if s == nil {
		return r
	}
	for i := range s.policies {
		p := &s.policies[i]
		if !p.On() || (p.Tenant != "" && p.Tenant != env.Tenant) || !slices.Contains(p.Actions, env.Action) {
			continue
		}
		hit, err := run(p.program, env)
		switch {
		case err != nil && p.Mode == ModeAudit:
			r.AuditErrors = append(r.AuditErrors, &EvalError{Rule: "policy/" + p.Name, Err: err})
			continue
		case err != nil:
			r.Err = &EvalError{Rule: "policy/" + p.Name, Err: err}
			return r
		}
		if !hit {
			continue
		}
		m := Match{Policy: p.Policy, Workflow: p.workflow}
		r.Matched = append(r.Matched, m)
		if p.Mode == ModeAudit {
			r.Audited = append(r.Audited, p.Policy)
			continue
		}
		switch p.Action {
		case ActionBlock:
			if r.Block == nil {
				r.Block = p.Policy
			}
			r.Blocks = append(r.Blocks, p.Policy)
		case ActionModify:
			if r.Modifications == nil {
				r.Modifications = map[string]any{}
			}
			maps.Copy(r.Modifications, p.Modifications)
			r.Modifiers = append(r.Modifiers, p.Policy)
		case ActionNotify:
			r.Notices = append(r.Notices, p.Policy)
		case ActionRequireApproval:
			r.hold(m.Workflow)
		}
	}
	if env.Action != "quantum-computing.job.create" {
		return r
	}
	for _, key := range s.order {
		w := s.workflows[key]
		if w.program == nil || (w.Tenant != "" && w.Tenant != env.Tenant) {
			continue
		}
		hit, err := run(w.program, env)
		if err != nil {
			r.Err = &EvalError{Rule: "workflow/" + w.Name, Err: err}
			return r
		}
		if hit {
			r.Matched = append(r.Matched, Match{Workflow: w.Workflow})
			r.hold(w.Workflow)
		}
	}
	return r
}

func (r *Result) hold(w *Workflow) {
	if !slices.Contains(r.Workflows, w) {
		r.Workflows = append(r.Workflows, w)
	}
}

// run evaluates one condition; a panic is an error like any other.
func run(p *vm.Program, env *Env) (hit bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			hit, err = false, fmt.Errorf("evaluation panicked: %v", v)
		}
	}()
	out, err := expr.Run(p, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("the condition yielded %T, not a boolean", out)
	}
	return b, nil
}
