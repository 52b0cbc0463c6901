package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/govapi"
	"github.com/qgov/qgov/govcli"
	"github.com/qgov/qgov/governance"
	"github.com/qgov/qgov/internal/qiskitclient"
	"github.com/qgov/qgov/simulator"
)

// startGovernedDemo runs the demo on its own store, with a fourth
// simulator instance, qr-my, for a tenant created through the API.
func startGovernedDemo(t *testing.T) *demo {
	dir := t.TempDir()
	sim := simulator.Default()
	sim.Instances = append(sim.Instances, simulator.InstanceConfig{Name: "QR-my", CRN: simulator.DemoCRN("qr-my"), APIKeys: []string{simulator.DemoAPIKey}})
	raw, err := json.Marshal(sim)
	require.NoError(t, err)
	simFile := filepath.Join(dir, "sim.json")
	require.NoError(t, os.WriteFile(simFile, raw, 0o600))
	return startDemoEdited(t, func(cfg string) string {
		return strings.NewReplacer("store bolt\n", "store bolt "+filepath.Join(dir, "qgov.db")+"\n",
			"qgov_simulator {\n", "qgov_simulator {\n\t\tconfig "+simFile+"\n").Replace(cfg)
	})
}

// cli runs a qgov command against the demo as the holder of key and
// returns its output and exit status.
func (d *demo) cli(t *testing.T, key string, args ...string) (string, int) {
	t.Setenv("QGOV_API_KEY", key)
	t.Setenv("QGOV_URL", d.gateway)
	code, out, err := gov(t, args...)
	if err != nil {
		out += err.Error()
	}
	return out, code
}

// TestGettingStartedThroughTheCLI drives IBM's enterprise-governance Getting Started
// through the qgov commands against a running gateway: the operator
// creates tenant my-org, an instance and project research, assigns
// alice researcher, sets a budget and creates the require_tags policy;
// alice's next Qiskit requests meet them.
func TestGettingStartedThroughTheCLI(t *testing.T) {
	d := startGovernedDemo(t)
	ctx := context.Background()
	const admin = "demo-admin-key"
	run := func(want int, args ...string) string {
		t.Helper()
		out, code := d.cli(t, admin, args...)
		require.Equal(t, want, code, "qgov %s: %s", strings.Join(args, " "), out)
		return out
	}

	run(0, "tenants", "create", "my-org", `display_name=My Organization`)
	run(0, "instances", "create", "QR-my", "--tenant-id", "my-org", "crn="+simulator.DemoCRN("qr-my"), "upstream="+d.sim+"/api/v1",
		"iam_url="+d.sim, "credential=simulator", `backends=["qgov_simulator","ibm_qgov_eagle"]`)
	run(0, "projects", "create", "research", "--tenant-id", "my-org", "display_name=Research Team", `instances=["QR-my"]`)
	run(0, "roles", "assign", "alice", "researcher", "--tenant-id", "my-org", "--project", "research")
	run(0, "budgets", "set", "tenant:my-org", "--tenant-id", "my-org", "monthly_limit_usd=1000")
	run(0, "policies", "create", "require_tags", "--tenant-id", "my-org", "condition=not tags.project", "action=block",
		"message=Every job needs a project tag")
	keyOut := run(0, "keys", "create", "--json", "--name", "alice-ci", "--user", "alice", "--tenant-id", "my-org")
	var key struct {
		Key   string `json:"key"`
		Owner string `json:"owner"`
	}
	require.NoError(t, json.Unmarshal([]byte(keyOut), &key))
	require.Equal(t, "alice", key.Owner)

	// the next Qiskit request meets the policy, then runs with the tag
	alice := &qiskitclient.Client{BaseURL: d.gateway, APIKey: key.Key, CRN: simulator.DemoCRN("qr-my")}
	_, err := alice.Submit(ctx, bellJob())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Every job needs a project tag (rule: policy require_tags")
	created, err := alice.Submit(ctx, bellJob("project:research"))
	require.NoError(t, err)
	assert.NotEmpty(t, created.ID)

	// the budget governs the tenant: lowering it to nothing refuses hardware jobs
	out := run(0, "budgets", "update", "tenant:my-org", "--tenant-id", "my-org", "monthly_limit_usd=0.01")
	assert.Contains(t, out, "monthly_limit_usd: 0.01")
	_, err = alice.Submit(ctx, hardwareJob("project:research"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "budget")

	// disabling the policy (IBM's enterprise-governance update_policy) lets untagged jobs through
	run(0, "policies", "update", "require_tags", "--tenant-id", "my-org", "enabled=false")
	_, err = alice.Submit(ctx, bellJob())
	require.NoError(t, err)

	// listing shows the roles: configuration's and the API's
	out = run(0, "roles", "of", "alice", "--tenant-id", "my-org")
	assert.Contains(t, out, "researcher")
	out = run(0, "policies", "list", "--tenant-id", "my-org")
	assert.Contains(t, out, "require_tags")
	assert.Contains(t, out, "api")

	// bad input: exit statuses say what went wrong, and nothing changed
	assert.Contains(t, run(5, "projects", "update", "ml", "cost_center=CC-1"), "declared at")
	assert.Contains(t, run(2, "projects", "create", "broken", "--tenant-id", "my-org", `instances=["QR-nowhere"]`), "QR-nowhere")
	assert.Contains(t, run(2, "projects", "create", "typo", "--tenant-id", "my-org", "colour=red"), `unknown field "colour"`)
	assert.Contains(t, run(5, "tenants", "create", "my-org"), "already exists")
	assert.Contains(t, run(4, "policies", "get", "nothing", "--tenant-id", "my-org"), "not_found")
	out, code := d.cli(t, "demo-fatima-key", "projects", "create", "sneaky", "--tenant-id", "my-org")
	assert.Equal(t, govcli.ExitDenied, code, out)
	out, code = d.cli(t, "demo-fatima-key", "projects", "create", "sneaky")
	assert.Equal(t, govcli.ExitDenied, code, out)
	assert.Contains(t, out, "tenant:manage")
	// my-org's own administrator manages my-org, and no other tenant
	run(0, "roles", "assign", "bob", "admin", "--tenant-id", "my-org")
	bobOut := run(0, "keys", "create", "--json", "--name", "bob-admin", "--user", "bob", "--tenant-id", "my-org")
	var bob struct {
		Key string `json:"key"`
	}
	require.NoError(t, json.Unmarshal([]byte(bobOut), &bob))
	out, code = d.cli(t, bob.Key, "tenants", "update", "my-org", "time_zone=Europe/Berlin")
	assert.Equal(t, govcli.ExitOK, code, out)
	for _, args := range [][]string{{"tenants", "get", "default"}, {"tenants", "update", "default", "mfa_required=false"}, {"projects", "list", "--tenant-id", "default"}} {
		out, code = d.cli(t, bob.Key, args...)
		assert.Equal(t, govcli.ExitDenied, code, "%v: %s", args, out)
		assert.Contains(t, out, "tenant_not_accessible", args)
	}

	out = run(0, "projects", "list", "--tenant-id", "my-org", "--json")
	var listed []governance.Entry
	require.NoError(t, json.Unmarshal([]byte(out), &listed))
	require.Len(t, listed, 1, "only research exists in my-org")
}

// TestETagsRefuseLostUpdates has two administrators change one policy:
// the second, holding the first revision, gets 412 and the first's
// change stays.
func TestETagsRefuseLostUpdates(t *testing.T) {
	d := startGovernedDemo(t)
	token, err := d.client("demo-admin-key", "QR-ml").Token(context.Background())
	require.NoError(t, err)
	call := func(method, path, body, ifMatch string) (*http.Response, string) {
		req, _ := http.NewRequest(method, d.gateway+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp, b.String()
	}
	resp, body := call(http.MethodPost, "/governance/v1/policies", `{"name":"weekend","condition":"day_of_week == 'Sunday'","action":"block"}`, "")
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)

	resp, body = call(http.MethodPatch, "/governance/v1/policies/weekend", `{"message":"first"}`, "")
	assert.Equal(t, http.StatusPreconditionRequired, resp.StatusCode, body)
	resp, body = call(http.MethodPatch, "/governance/v1/policies/weekend", `{"message":"first"}`, etag)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	resp, body = call(http.MethodPatch, "/governance/v1/policies/weekend", `{"message":"second"}`, etag)
	assert.Equal(t, http.StatusPreconditionFailed, resp.StatusCode, body)
	assert.Contains(t, body, "changed by admin")
	_, body = call(http.MethodGet, "/governance/v1/policies/weekend", "", "")
	assert.Contains(t, body, `"message":"first"`)

	resp, body = call(http.MethodPut, "/governance/v1/policies/weekend", strings.Repeat(" ", 2<<20), "*")
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, body)
	assert.Contains(t, body, "body_too_large", "the code of every body over its limit")
	resp, body = call(http.MethodPost, "/governance/v1/policies", `{"name":"bad","condition":"shots >","action":"block"}`, "")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	assert.Contains(t, body, "unexpected token EOF")
	resp, body = call(http.MethodPost, "/governance/v1/instances", `{"alias":"QR-x","crn":"crn:v1:a:b:c:d:e:f::","upstream":"http://x","api_key":"literal-secret"}`, "")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	assert.Contains(t, body, "secret_not_allowed")

	// export and apply: the exported file applies to no change
	resp, exported := call(http.MethodGet, "/governance/v1/export", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, exported)
	assert.Contains(t, exported, "weekend")
	resp, body = call(http.MethodPost, "/governance/v1/apply?dry_run=true", exported, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, `"changes":[]`)
	edited := replaceOnce(t, exported, "message: first", "message: edited")
	resp, body = call(http.MethodPost, "/governance/v1/apply?dry_run=true", edited, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, `"op":"update"`)
	_, body = call(http.MethodGet, "/governance/v1/policies/weekend", "", "")
	assert.Contains(t, body, `"message":"first"`, "a dry run changes nothing")
}

// TestOpenAPIMatchesTheRoutes validates the served OpenAPI document and
// sends every operation it lists to the gateway: each is served (no
// unknown_route, no method_not_allowed).
func TestOpenAPIMatchesTheRoutes(t *testing.T) {
	d := startGovernedDemo(t)
	token, err := d.client("demo-admin-key", "QR-ml").Token(context.Background())
	require.NoError(t, err)
	resp, err := http.Get(d.gateway + "/governance/v1/openapi.json")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the document too needs a token")

	doc, err := openapi3.NewLoader().LoadFromData(govapi.OpenAPI)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	fill := strings.NewReplacer("{name}", "nothing", "{user}", "admin", "{id}", "nothing", "{job_id}", "nothing", "{type}", "access_review")
	operations := 0
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			operations++
			url := d.gateway + fill.Replace(path)
			if path == "/governance/v1/reports/{type}" {
				url += "?period=2026-11"
			}
			req, _ := http.NewRequest(method, url, strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("If-Match", "*")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			assert.NotContains(t, b.String(), "unknown_route", "%s %s", method, path)
			assert.NotContains(t, b.String(), "method_not_allowed", "%s %s", method, path)
			assert.Less(t, resp.StatusCode, 500, "%s %s: %s", method, path, b.String())
		}
	}
	assert.Greater(t, operations, 60)
	for _, bad := range []struct{ method, path string }{
		{http.MethodGet, "/governance/v1/nothing"}, {http.MethodPost, "/governance/v1/policies/x"}, {http.MethodPut, "/governance/v1/policies"},
	} {
		req, _ := http.NewRequest(bad.method, d.gateway+bad.path, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, resp.StatusCode, "%s %s is in no document", bad.method, bad.path)
		if resp.StatusCode == http.StatusMethodNotAllowed {
			assert.NotEmpty(t, resp.Header.Get("Allow"), "%s %s names the methods served", bad.method, bad.path)
		}
	}
}
