package policy

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func seed(t testing.TB) *Set {
	t.Helper()
	data, err := os.ReadFile("testdata/policies.yaml")
	require.NoError(t, err)
	f, err := ParseFile(data)
	require.NoError(t, err)
	s, err := Compile(f.Policies, f.Workflows)
	require.NoError(t, err)
	return s
}

// job is a hardware job on a Wednesday, tagged as an experiment.
func job(edit func(*Env)) *Env {
	e := &Env{User: "fatima", Tenant: "default", Project: "ml", Action: "quantum-computing.job.create",
		Program: "sampler", Backend: "ibm_qgov_eagle", Shots: 4000, Pubs: 1, Qubits: 5, Depth: 20,
		EstimatedCostUSD: 5, RemainingBudgetUSD: -1, Tags: Tags([]string{"experiment:vqe"}), Priority: "normal"}
	e.SetTime(time.Date(2026, 11, 18, 10, 0, 0, 0, time.UTC), nil)
	if edit != nil {
		edit(e)
	}
	return e
}

func names[T interface{ *Policy | *Workflow }](xs []T) []string {
	out := []string{}
	for _, x := range xs {
		switch v := any(x).(type) {
		case *Policy:
			out = append(out, v.Name)
		case *Workflow:
			out = append(out, v.Name)
		}
	}
	return out
}

func TestSeedPolicies(t *testing.T) {
	s := seed(t)
	saturday := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		edit      func(*Env)
		blocks    []string
		modifies  map[string]any
		notices   []string
		workflows []string
	}{
		{name: "a tagged hardware job on a weekday needs the hardware workflow only",
			workflows: []string{"hardware_access"}},
		{name: "an untagged hardware job is blocked",
			edit: func(e *Env) { e.Tags = Tags(nil) }, blocks: []string{"require_experiment_tag"}, workflows: []string{"hardware_access"}},
		{name: "a bare experiment tag counts",
			edit: func(e *Env) { e.Tags = Tags([]string{"experiment"}) }, workflows: []string{"hardware_access"}},
		{name: "an empty experiment tag does not",
			edit: func(e *Env) { e.Tags = Tags([]string{"experiment:"}) }, blocks: []string{"require_experiment_tag"}, workflows: []string{"hardware_access"}},
		{name: "a simulator job needs no tag and no approval",
			edit: func(e *Env) { e.Backend, e.Simulator, e.Tags = "qgov_simulator", true, Tags(nil) }},
		{name: "an $11 job on Saturday is blocked",
			edit: func(e *Env) { e.SetTime(saturday, nil); e.EstimatedCostUSD = 11 }, blocks: []string{"weekend_cost_limit"}, workflows: []string{"hardware_access"}},
		{name: "a $9 job on Saturday passes",
			edit: func(e *Env) { e.SetTime(saturday, nil); e.EstimatedCostUSD = 9 }, workflows: []string{"hardware_access"}},
		{name: "Saturday in UTC is still Friday in Los Angeles",
			edit: func(e *Env) {
				la, _ := time.LoadLocation("America/Los_Angeles")
				e.SetTime(time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC), la)
				e.EstimatedCostUSD = 11
			}, workflows: []string{"hardware_access"}},
		{name: "development jobs go to the simulator",
			edit: func(e *Env) { e.Tags["environment"] = "development" }, modifies: map[string]any{"backend": "simulator"}, workflows: []string{"hardware_access"}},
		{name: "large jobs notify the team lead and slack",
			edit: func(e *Env) { e.Shots = 60000 }, notices: []string{"large_job_notification"}, workflows: []string{"hardware_access"}},
		{name: "costly jobs notify and need both approvals",
			edit:    func(e *Env) { e.EstimatedCostUSD = 60 },
			notices: []string{"large_job_notification"}, workflows: []string{"high_cost_job", "hardware_access"}},
		{name: "priority simulator jobs need a team lead",
			edit:      func(e *Env) { e.Backend, e.Simulator, e.Priority = "qgov_simulator", true, "high" },
			workflows: []string{"priority_queue"}},
		{name: "a job read is not a job submission",
			edit: func(e *Env) { e.Action, e.Backend, e.Tags = "quantum-computing.job.read", "", Tags(nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Evaluate(job(tt.edit))
			require.Nil(t, r.Err)
			assert.Equal(t, orEmpty(tt.blocks), names(r.Blocks))
			assert.Equal(t, tt.modifies, r.Modifications)
			assert.Equal(t, orEmpty(tt.notices), names(r.Notices))
			assert.Equal(t, orEmpty(tt.workflows), names(r.Workflows))
			if len(tt.blocks) > 0 {
				assert.Equal(t, tt.blocks[0], r.Block.Name)
			}
		})
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestCompileErrors(t *testing.T) {
	wf := []Workflow{{Name: "w", Approvers: []Target{{Role: "team_lead"}}}}
	tests := []struct {
		name   string
		policy Policy
		want   string
	}{
		{"unknown field", Policy{Name: "p", Condition: "colour == 'red'", Action: ActionBlock}, `policy "p": condition: unknown name colour (1:1)`},
		{"not a boolean", Policy{Name: "p", Condition: "shots * 2", Action: ActionBlock}, `policy "p": condition: expected bool, but got int`},
		{"syntax", Policy{Name: "p", Condition: "shots >", Action: ActionBlock}, `policy "p": condition: unexpected token EOF (1:7)`},
		{"type", Policy{Name: "p", Condition: "shots > 'many'", Action: ActionBlock}, `mismatched types int and string) (1:7)`},
		{"no condition", Policy{Name: "p", Action: ActionBlock}, "a condition is required"},
		{"unknown action", Policy{Name: "p", Condition: "true", Action: "warn"}, `action "warn"`},
		{"bad mode", Policy{Name: "p", Condition: "true", Action: ActionBlock, Mode: "dry"}, `mode "dry"`},
		{"identity", Policy{Name: "p", Condition: "true", Action: ActionModify, Modifications: map[string]any{"user": "admin"}}, "user may not be modified"},
		{"tenant", Policy{Name: "p", Condition: "true", Action: ActionModify, Modifications: map[string]any{"tenant": "other"}}, "tenant may not be modified"},
		{"unknown modification", Policy{Name: "p", Condition: "true", Action: ActionModify, Modifications: map[string]any{"colour": "red"}}, `"colour" is not a modifiable field`},
		{"bad shots", Policy{Name: "p", Condition: "true", Action: ActionModify, Modifications: map[string]any{"shots": -3}}, "shots: -3 is not a valid value"},
		{"modify reads", Policy{Name: "p", Condition: "true", Action: ActionModify, Actions: []string{"quantum-computing.job.read"}, Modifications: map[string]any{"backend": "x"}}, "job submissions only"},
		{"unknown workflow", Policy{Name: "p", Condition: "true", Action: ActionRequireApproval, Workflow: "nope"}, `workflow "nope" is not declared`},
		{"unknown route action", Policy{Name: "p", Condition: "true", Action: ActionBlock, Actions: []string{"job.launch"}}, `"job.launch" is not a Runtime API action`},
		{"notify nobody", Policy{Name: "p", Condition: "true", Action: ActionNotify}, "needs notify targets"},
		{"ambiguous target", Policy{Name: "p", Condition: "true", Action: ActionNotify, Notify: []Target{{Role: "a", User: "b"}}}, "exactly one of role, user or channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile([]Policy{tt.policy}, wf)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := Compile(nil, []Workflow{{Name: "w", Trigger: Trigger{Condition: "cost > 1"}, OnTimeout: "ignore"}})
	require.Error(t, err)
	for _, want := range []string{`workflow "w": condition: unknown name cost`, `on_timeout "ignore"`, "approvers: at least one"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestEvaluationErrorsDeny(t *testing.T) {
	tests := []struct {
		name, condition, want string
	}{
		{"a runaway loop exhausts its memory budget", "len(map(1..100000000, # * 2)) > 0", "memory budget exceeded"},
		{"a nil tag compared as a number", "tags.size > 3", "invalid operation"},
		{"a division by zero", "1 / (shots - shots) > 0 and 1 % (shots - shots) == 0", "integer divide by zero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []string{ModeEnforce, ModeAudit} {
				s, err := Compile([]Policy{{Name: "p", Condition: tt.condition, Action: ActionNotify, Mode: mode, Notify: []Target{{Channel: "c"}}}}, nil)
				require.NoError(t, err)
				r := s.Evaluate(job(nil))
				if mode == ModeAudit {
					require.Nil(t, r.Err, "an audit-mode policy records its error and does not act")
					require.Len(t, r.AuditErrors, 1)
					assert.Contains(t, r.AuditErrors[0].Error(), tt.want)
					continue
				}
				require.NotNil(t, r.Err)
				assert.Equal(t, "policy/p", r.Err.Rule)
				assert.Contains(t, r.Err.Error(), tt.want)
				assert.Equal(t, []string{"policy/p"}, r.RuleIDs())
			}
		})
	}
}

func TestModesAndOrder(t *testing.T) {
	off := false
	s, err := Compile([]Policy{
		{Name: "audit-block", Condition: "true", Action: ActionBlock, Mode: ModeAudit},
		{Name: "disabled", Condition: "true", Action: ActionBlock, Enabled: &off},
		{Name: "other-tenant", Tenant: "globex", Condition: "true", Action: ActionBlock},
		{Name: "first", Condition: "true", Action: ActionModify, Modifications: map[string]any{"backend": "a", "shots": 10}},
		{Name: "second", Condition: "true", Action: ActionModify, Modifications: map[string]any{"backend": "b"}},
		{Name: "block-1", Condition: "shots > 1", Action: ActionBlock, Message: "one"},
		{Name: "block-2", Condition: "true", Action: ActionBlock},
	}, nil)
	require.NoError(t, err)
	r := s.Evaluate(job(nil))
	assert.Equal(t, []string{"audit-block"}, names(r.Audited))
	assert.Equal(t, map[string]any{"backend": "b", "shots": 10}, r.Modifications, "later policies win per field")
	assert.Equal(t, "block-1", r.Block.Name, "block wins, first block's message")
	assert.Equal(t, []string{"block-1", "block-2"}, names(r.Blocks))
	assert.Equal(t, []string{"policy/audit-block", "policy/first", "policy/second", "policy/block-1", "policy/block-2"}, r.RuleIDs())
	assert.True(t, s.Applies("default", "quantum-computing.job.create"))
	assert.False(t, s.Applies("default", "quantum-computing.job.read"))
}

func TestApply(t *testing.T) {
	body := []byte(`{"program_id":"sampler","backend":"ibm_qgov_eagle","params":{"pubs":[["OPENQASM 3.0;"]],"version":2},"tags":["environment:development"],"private":false}`)
	out, err := Apply(body, map[string]any{"backend": "simulator", "shots": 100, "tags": []any{"routed", "environment:development"}, "max_execution_time": 30},
		func() (string, error) { return "qgov_simulator", nil })
	require.NoError(t, err)
	assert.JSONEq(t, `{"program_id":"sampler","backend":"qgov_simulator","params":{"pubs":[["OPENQASM 3.0;"]],"version":2,"shots":100},
		"tags":["environment:development","routed"],"private":false,"cost":30}`, string(out))

	_, err = Apply(body, map[string]any{"backend": "simulator"}, func() (string, error) { return "", fmt.Errorf("instance QR-x has no simulator") })
	assert.ErrorContains(t, err, "no simulator")
}

// workflowNamed finds a workflow every tenant shares.
func workflowNamed(s *Set, name string) *Workflow {
	for _, w := range s.Workflows() {
		if w.Name == name && w.Tenant == "" {
			return w
		}
	}
	return nil
}

// TestNamesWithinTenants compiles two tenants' policies and workflows of
// one name beside configuration's: a tenant's policy starts its own
// workflow of a name only when no workflow of that name is shared (a
// tenant cannot replace the shared one behind a policy), and the same
// name twice in one tenant is an error naming it.
func TestNamesWithinTenants(t *testing.T) {
	hold := func(tenant, workflow string) Policy {
		return Policy{Name: "big", Tenant: tenant, Condition: "shots > 10", Action: ActionRequireApproval, Workflow: workflow}
	}
	flow := func(tenant string) Workflow {
		return Workflow{Name: "high_cost_job", Tenant: tenant, Approvers: []Target{{Role: "admin"}}, TimeoutHours: 1}
	}
	s, err := Compile([]Policy{hold("", "high_cost_job"), hold("beta", "high_cost_job"), hold("acme", "high_cost_job"), hold("gamma", "own_flow")},
		[]Workflow{flow(""), flow("beta"), {Name: "own_flow", Tenant: "gamma", Approvers: []Target{{Role: "admin"}}, TimeoutHours: 1}})
	require.NoError(t, err)
	for tenant, want := range map[string]string{"beta": "", "acme": "", "default": "", "gamma": "gamma"} {
		r := s.Evaluate(&Env{Tenant: tenant, Action: "quantum-computing.job.create", Shots: 100})
		var got []string
		for _, w := range r.Workflows {
			got = append(got, w.Tenant)
		}
		assert.Contains(t, got, want, "tenant %s", tenant)
		assert.Subset(t, []string{"", want}, got, "tenant %s holds with no other tenant's workflow", tenant)
	}
	_, err = Compile([]Policy{hold("beta", "x"), hold("beta", "x")}, []Workflow{{Name: "x", Approvers: []Target{{Role: "admin"}}, TimeoutHours: 1}})
	assert.ErrorContains(t, err, `policy "big" of tenant beta: declared twice`)
}

func TestWorkflowTiers(t *testing.T) {
	s := seed(t)
	hw := workflowNamed(s, "hardware_access")
	created := time.Date(2026, 11, 18, 10, 0, 0, 0, time.UTC)
	assert.Equal(t, []Target{{Role: "admin"}}, hw.EscalateTo, "escalation defaults to the admins")
	for _, tc := range []struct {
		after time.Duration
		tier  int
		open  bool
	}{{0, 0, true}, {3*time.Hour + 59*time.Minute, 0, true}, {4 * time.Hour, 1, true}, {8 * time.Hour, 2, false}} {
		tier, open := hw.Tier(created, created.Add(tc.after))
		assert.Equal(t, tc.tier, tier, tc.after)
		assert.Equal(t, tc.open, open, tc.after)
	}
	assert.Equal(t, created.Add(8*time.Hour), hw.Deadline(created))
	hc := workflowNamed(s, "high_cost_job")
	assert.Equal(t, created.Add(24*time.Hour), hc.Deadline(created), "reject: one tier")
	assert.True(t, Matches(hc.Approvers, "root", "admin@example.com", nil))
	assert.True(t, Matches(hc.Approvers, "lee", "", []string{"team_lead"}))
	assert.False(t, Matches(hc.Approvers, "fatima", "fatima@example.org", []string{"researcher"}))
	assert.Equal(t, 5, workflowNamed(s, "priority_queue").MaxApprovalsPerDay)
}

func TestParseFileErrors(t *testing.T) {
	_, err := ParseFile([]byte("policies:\n  - name: p\n    condtion: true\n"))
	assert.ErrorContains(t, err, "condtion")
	_, err = ParseFile([]byte("workflows:\n  w:\n    approvers: [{role: a}]\n    timeout: 3\n"))
	assert.ErrorContains(t, err, `workflow "w"`)
	_, err = ParseFile([]byte("workflows: [a]\n"))
	assert.ErrorContains(t, err, "workflows must map names")
}

// BenchmarkEvaluate50 evaluates 50 policies (the demo's four, repeated
// with varied thresholds) and the demo's three workflow triggers against
// one job submission.
func BenchmarkEvaluate50(b *testing.B) {
	f, err := ParseFile(must(os.ReadFile("testdata/policies.yaml")))
	require.NoError(b, err)
	var ps []Policy
	for i := 0; len(ps) < 50; i++ {
		for _, p := range f.Policies {
			p.Name = fmt.Sprintf("%s-%d", p.Name, i)
			p.Condition = fmt.Sprintf("(%s) and hour >= %d", p.Condition, i%3)
			ps = append(ps, p)
		}
	}
	s, err := Compile(ps[:50], f.Workflows)
	require.NoError(b, err)
	env := job(func(e *Env) { e.Shots = 60000 })
	b.ReportAllocs()
	for b.Loop() {
		if r := s.Evaluate(env); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
