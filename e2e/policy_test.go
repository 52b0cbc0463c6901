package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

// demoPolicies are a block policy and a workflow written in the qgov
// block of a Caddyfile, read from ../caddymodule/testdata/demo-policies.caddyfile (shared by the
// Caddyfile parsing tests and the end-to-end ones).
var demoPolicies = func() string {
	raw, err := os.ReadFile("../caddymodule/testdata/demo-policies.caddyfile")
	if err != nil {
		panic(err)
	}
	return "\n" + string(raw)
}()

// hardwareJob is a 1000-shot job on the simulated Eagle (about USD 3.60).
func hardwareJob(tags ...string) runtimeapi.JobRequest {
	params := fmt.Sprintf(`{"pubs":[[%q,null,1000]],"version":2}`, `OPENQASM 3.0; include "stdgates.inc"; bit[1] c; x $0; c[0] = measure $0;`)
	return runtimeapi.JobRequest{ProgramID: "sampler", Backend: "ibm_qgov_eagle", Params: json.RawMessage(params), Tags: tags}
}

// TestPoliciesInCaddy runs the demo in Caddy with a block policy and an
// approval workflow from its Caddyfile: the Qiskit client's untagged
// hardware job is refused; a tagged one is held, reads Queued until the
// administrator approves it through the governance API, and then runs
// to completion under the id the client was given, forwarded once.
func TestPoliciesInCaddy(t *testing.T) {
	d := startDemoWith(t, demoPolicies)
	ctx := context.Background()
	fatima := d.client("demo-fatima-key", "QR-ml")

	_, err := fatima.Submit(ctx, hardwareJob())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Hardware jobs require 'experiment' tag (rule: policy require_experiment_tag")

	before := d.upstreamJobs(t, "QR-ml")
	created, err := fatima.Submit(ctx, hardwareJob("experiment:bell"))
	require.NoError(t, err)
	j, err := fatima.Job(ctx, created.ID)
	require.NoError(t, err)
	assert.Equal(t, runtimeapi.StatusQueued, j.Status)
	assert.Contains(t, j.State.Reason, "awaiting approval: workflow high_cost_job (approvers: role team_lead, user admin")
	assert.Equal(t, before, d.upstreamJobs(t, "QR-ml"), "nothing reached the upstream")

	admin := d.client("demo-admin-key", "QR-ml")
	token, err := admin.Token(ctx)
	require.NoError(t, err)
	decide := func() int {
		req, _ := http.NewRequest(http.MethodPost, d.gateway+"/governance/v1/approvals/"+created.ID,
			bytes.NewReader([]byte(`{"decision":"approve","comment":"Approved for quarterly experiment"}`)))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, decide())
	assert.Equal(t, http.StatusConflict, decide(), "a retried approval forwards nothing more")

	j, err = fatima.Wait(ctx, created.ID, 50*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, runtimeapi.StatusCompleted, j.Status)
	assert.Equal(t, created.ID, j.ID)
	assert.Equal(t, before+1, d.upstreamJobs(t, "QR-ml"), "forwarded exactly once")
	_, err = fatima.Results(ctx, created.ID)
	assert.NoError(t, err)
}

// TestPolicyTestCommand runs qgov gov policies test on a Caddyfile with the
// demo's policy file and sample requests.
func TestPolicyTestCommand(t *testing.T) {
	dir := t.TempDir()
	seed, err := os.ReadFile("../policy/testdata/policies.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "policies.yaml"), seed, 0o600))
	caddyfile := filepath.Join(dir, "Caddyfile")
	require.NoError(t, os.WriteFile(caddyfile, []byte("{\n\tqgov {\n\t\tpolicy_file policies.yaml\n\t}\n}\n"), 0o600))
	sample := filepath.Join(dir, "sample.json")
	test := func(req string) (int, string, error) {
		require.NoError(t, os.WriteFile(sample, []byte(req), 0o600))
		return gov(t, "policies", "test", "--config", caddyfile, "--request", sample)
	}
	code, out, err := test(`{"user":"fatima","backend":"ibm_qgov_eagle","estimated_cost_usd":12,"tags":{"experiment":"vqe"},"day_of_week":"Saturday"}`)
	require.NoError(t, err)
	assert.Equal(t, 3, code, "blocked: %s", out)
	assert.Regexp(t, `policy/weekend_cost_limit\s+enforce\s+block\s+true\s+block: Jobs over \$10 blocked on weekends`, out)
	assert.Regexp(t, `policy/require_experiment_tag\s+enforce\s+block\s+false\s+no match`, out)
	assert.Regexp(t, `workflow/hardware_access\s+enforce\s+require_approval\s+true\s+hold for approval`, out)
	assert.Contains(t, out, "outcome: blocked by policy weekend_cost_limit")

	code, out, err = test(`{"backend":"qgov_simulator","simulator":true,"tags":{"environment":"development"},"day_of_week":"Monday"}`)
	require.NoError(t, err)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "outcome: allowed, modified map[backend:simulator]")

	code, out, err = test(`{"backend":"qgov_simulator","simulator":true,"priority":"high"}`)
	require.NoError(t, err)
	assert.Equal(t, 4, code, "held: %s", out)
	assert.Contains(t, out, "outcome: held for approval: priority_queue")

	code, _, err = test(`{"colour":"red"}`)
	assert.Equal(t, 1, code)
	assert.ErrorContains(t, err, `unknown field "colour"`)
}
