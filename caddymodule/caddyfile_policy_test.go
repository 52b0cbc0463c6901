package caddymodule

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/policy"
)

// demoPolicies are a block policy and a workflow written in the qgov
// block of a Caddyfile, read from testdata/demo-policies.caddyfile (shared by the
// Caddyfile parsing tests and the end-to-end ones).
var demoPolicies = func() string {
	raw, err := os.ReadFile("testdata/demo-policies.caddyfile")
	if err != nil {
		panic(err)
	}
	return "\n" + string(raw)
}()

// hardwareJob is a 1000-shot job on the simulated Eagle (about USD 3.60).
// parsePolicies adapts a qgov block's contents.
func parsePolicies(body string) (*App, error) {
	v, err := parseApp(caddyfile.NewTestDispenser("qgov {\n"+body+"\n}"), nil)
	if err != nil {
		return nil, err
	}
	var a App
	return &a, json.Unmarshal(v.(httpcaddyfile.App).Value, &a)
}

func TestParsePolicies(t *testing.T) {
	a, err := parsePolicies(demoPolicies + `
		policy dev {
			condition ` + "`tags.environment == 'development'`" + `
			action modify
			modify backend simulator
			modify shots 100
			modify tags routed dev
			mode audit
			disabled
		}
		policy big {
			condition ` + "`shots > 50000`" + `
			action notify
			notify role team_lead
			notify channel slack
			actions quantum-computing.job.create
		}
		workflow hw {
			trigger ` + "`backend != 'simulator'`" + `
			approvers role admin
			auto_approve_for role senior_researcher
			escalate_to user root
			on_timeout escalate
			timeout_hours 4
			max_approvals_per_day 5
		}`)
	require.NoError(t, err)
	require.Len(t, a.Policies, 3)
	for i := range a.Policies {
		assert.NotEmpty(t, a.Policies[i].Source, "where the policy is declared")
		a.Policies[i].Source = ""
	}
	for i := range a.Workflows {
		assert.NotEmpty(t, a.Workflows[i].Source, "where the workflow is declared")
		a.Workflows[i].Source = ""
	}
	off := false
	assert.Equal(t, policy.Policy{Name: "dev", Condition: "tags.environment == 'development'", Action: "modify", Mode: "audit", Enabled: &off,
		Modifications: map[string]any{"backend": "simulator", "shots": float64(100), "tags": []any{"routed", "dev"}}}, a.Policies[1])
	assert.Equal(t, []policy.Target{{Role: "team_lead"}, {Channel: "slack"}}, a.Policies[2].Notify)
	require.Len(t, a.Workflows, 2)
	assert.Equal(t, policy.Workflow{Name: "hw", Trigger: policy.Trigger{Condition: "backend != 'simulator'"}, Approvers: []policy.Target{{Role: "admin"}},
		AutoApproveFor: []policy.Target{{Role: "senior_researcher"}}, EscalateTo: []policy.Target{{User: "root"}}, OnTimeout: "escalate",
		TimeoutHours: 4, MaxApprovalsPerDay: 5}, a.Workflows[1])
	_, err = policy.Compile(a.Policies, a.Workflows)
	require.NoError(t, err)

	a, err = parsePolicies("policy p {\n condition `true`\n action notify\n notify channel pager\n}\nworkflow w {\n approvers role admin\n notify submitter teams\n}")
	require.NoError(t, err)
	err = a.checkChannels(a.declared())
	assert.ErrorContains(t, err, `qgov policy "p": notification channel "pager" is not declared`)
	assert.ErrorContains(t, err, `qgov workflow "w": notification channel "teams" is not declared`)

	for _, bad := range []struct{ in, want string }{
		{"policy p {\n colour red\n}", `unrecognized policy option "colour"`},
		{"workflow w {\n approvers team lead\n}", `"team": name a role or a user`},
		{"workflow w {\n timeout_hours soon\n}", `timeout_hours: "soon" is not a positive number`},
		{"policy_file nowhere.yaml", "policy_file: open nowhere.yaml"},
	} {
		_, err := parsePolicies(bad.in)
		assert.ErrorContains(t, err, bad.want, bad.in)
	}
}
