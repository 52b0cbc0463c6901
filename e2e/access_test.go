package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/qiskitclient"
)

// startAccessDemo runs Caddyfile.example with testdata/access.yaml added
// through org_file, and API keys for that file's users.
func startAccessDemo(t *testing.T) *demo {
	orgFile, err := filepath.Abs("testdata/access.yaml")
	require.NoError(t, err)
	var keys strings.Builder
	for _, k := range []struct{ user, tenant string }{{"grace", ""}, {"hugo", ""}, {"olga", ""}, {"tom", ""}, {"ian", ""}, {"fatima", "acme"}} {
		fmt.Fprintf(&keys, "\t\tapi_key %s-%s {\n\t\t\tkey %s-key%s\n\t\t\tuser %s\n", k.user, k.tenant, k.user, k.tenant, k.user)
		if k.tenant != "" {
			fmt.Fprintf(&keys, "\t\t\ttenant %s\n", k.tenant)
		}
		keys.WriteString("\t\t}\n")
	}
	return startDemoWith(t, "\t\torg_file "+orgFile+"\n"+keys.String())
}

// denial is the status and Runtime API error code of a refused call.
func denial(t *testing.T, err error) (int, runtimeapi.ErrorItem) {
	t.Helper()
	var e *qiskitclient.Error
	require.True(t, errors.As(err, &e), "want a refusal, got %v", err)
	item, ok := e.Item()
	require.True(t, ok, "Runtime API error body: %s", e.Body)
	return e.Status, item
}

// TestAccessControl drives the documented access examples through a real
// qgov in front of the simulator: roles decide what each user may do to
// whose job, and denied requests never reach the upstream.
func TestAccessControl(t *testing.T) {
	d := startAccessDemo(t)
	ctx := t.Context()
	as := func(key, alias string) *qiskitclient.Client { return d.client(key, alias) }
	fatima, rita, ian := as("demo-fatima-key", "QR-ml"), as("demo-rita-key", "QR-ml"), as("ian-key", "QR-ml")
	submit := func(c *qiskitclient.Client) string {
		job, err := c.Submit(ctx, bellJob())
		require.NoError(t, err)
		return job.ID
	}
	fatimasJob, ritasJob := submit(fatima), submit(rita)

	type call struct {
		name         string
		c            *qiskitclient.Client
		method, path string
		status       int    // 0: allowed
		code, msg    string // of the refusal
	}
	probe := func(t *testing.T, tc call) {
		status, body, err := tc.c.Do(ctx, tc.method, tc.path, map[string]any{"tags": []string{"x"}})
		require.NoError(t, err)
		if tc.status == 0 { // the gateway let it through; the upstream may still refuse (409: already completed)
			assert.NotContains(t, []int{401, 403, 404}, status, "%s: %s", tc.name, body)
			return
		}
		assert.Equal(t, tc.status, status, "%s: %s", tc.name, body)
		assert.Contains(t, string(body), `"code":"`+tc.code+`"`, tc.name)
		assert.Contains(t, string(body), tc.msg, tc.name)
	}

	t.Run("MLreader may read but not cancel, delete or update; MLwriter may", func(t *testing.T) {
		for _, tc := range []call{
			{"reader reads a colleague's job", rita, "GET", "/jobs/" + fatimasJob, 0, "", ""},
			{"reader reads results", rita, "GET", "/jobs/" + fatimasJob + "/logs", 0, "", ""},
			{"reader cannot cancel", rita, "POST", "/jobs/" + ritasJob + "/cancel", 403, "permission_denied", "user rita lacks quantum-computing.job.cancel on instance QR-ml: it needs the permission job:cancel; roles by project: ml: QRreader (access group ml-readers)"},
			{"reader cannot delete", rita, "DELETE", "/jobs/" + ritasJob, 403, "permission_denied", "job:delete"},
			{"reader cannot update tags", rita, "PUT", "/jobs/" + ritasJob + "/tags", 403, "permission_denied", "job:update"},
			{"writer updates the reader's job", fatima, "PUT", "/jobs/" + ritasJob + "/tags", 0, "", ""},
			{"writer cancels the reader's job", fatima, "POST", "/jobs/" + ritasJob + "/cancel", 0, "", ""},
		} {
			probe(t, tc)
		}
	})

	t.Run("a group-level member reaches every project of the group", func(t *testing.T) {
		grace := as("grace-key", "QR-ml")
		for _, alias := range []string{"QR-ml", "QR-finance"} {
			c := as("grace-key", alias)
			id := submit(c)
			_, err := c.Wait(ctx, id, 0)
			require.NoError(t, err, alias)
		}
		_, err := as("grace-key", "QR-common").Submit(ctx, bellJob())
		status, item := denial(t, err)
		assert.Equal(t, http.StatusForbidden, status)
		assert.Equal(t, "instance_not_accessible", item.Code, "research's projects do not use QR-common")

		hugosJob := submit(as("hugo-key", "QR-ml"))
		probe(t, call{"researcher reads a colleague's job", grace, "GET", "/jobs/" + hugosJob, 0, "", ""})
		probe(t, call{"job:cancel:own spares a colleague's job", grace, "POST", "/jobs/" + hugosJob + "/cancel", 403, "permission_denied",
			"the permission job:cancel:own covers only their own jobs, and this one is hugo's"})
		probe(t, call{"the owner cancels it", as("hugo-key", "QR-ml"), "POST", "/jobs/" + hugosJob + "/cancel", 0, "", ""})
		probe(t, call{"a project's job stays invisible to another project", grace, "GET", "/jobs/" + fatimasJob, 404, "job_not_found", fatimasJob})
	})

	t.Run("assignments grant until they expire", func(t *testing.T) {
		_, err := as("olga-key", "QR-ml").Submit(ctx, bellJob())
		status, item := denial(t, err)
		assert.Equal(t, http.StatusForbidden, status)
		assert.Equal(t, "instance_not_accessible", item.Code)
		tom := as("tom-key", "QR-ml")
		probe(t, call{"a team lead cancels any job of the project", tom, "POST", "/jobs/" + fatimasJob + "/cancel", 0, "", ""})
		probe(t, call{"but may not delete it", tom, "DELETE", "/jobs/" + fatimasJob, 403, "permission_denied", "team_lead (assignment of team_lead"})
	})

	t.Run("an intern submits to simulators and sees only their own jobs", func(t *testing.T) {
		id := submit(ian)
		probe(t, call{"own job", ian, "GET", "/jobs/" + id, 0, "", ""})
		probe(t, call{"own results", ian, "GET", "/jobs/" + id + "/results", 0, "", ""})
		probe(t, call{"a colleague's job is not visible", ian, "GET", "/jobs/" + ritasJob, 404, "job_not_found", ""})
		probe(t, call{"no cancel at all", ian, "POST", "/jobs/" + id + "/cancel", 403, "permission_denied", "quantum_intern"})
		var list runtimeapi.JobList
		require.NoError(t, ian.JSON(ctx, http.MethodGet, "/jobs?limit=100", nil, &list))
		require.Len(t, list.Jobs, 1, "only the intern's own job")
		assert.Equal(t, id, list.Jobs[0].ID)
	})

	t.Run("denied submissions reach nothing upstream", func(t *testing.T) {
		before := d.upstreamJobs(t, "QR-ml")
		hardware := bellJob()
		hardware.Backend = "ibm_qgov_eagle"
		outside := bellJob()
		outside.Backend = "ibm_torino"
		for _, tc := range []struct {
			name   string
			c      *qiskitclient.Client
			job    runtimeapi.JobRequest
			status int
			code   string
			msg    string
		}{
			{"simulator-only role on hardware", ian, hardware, 403, "simulator_only", `may submit only to simulators in project ml (permission job:submit:simulator_only), and "ibm_qgov_eagle" is not one`},
			{"backend outside the instance's allow-list", fatima, outside, 403, "backend_not_allowed", `instance QR-ml does not allow backend "ibm_torino"`},
			{"expired assignment", as("olga-key", "QR-ml"), bellJob(), 403, "instance_not_accessible", "olga"},
			{"viewer-less tenant", as("fatima-keyacme", "QR-ml"), bellJob(), 403, "instance_not_accessible", "tenant acme"},
		} {
			_, err := tc.c.Submit(ctx, tc.job)
			status, item := denial(t, err)
			assert.Equal(t, tc.status, status, tc.name)
			assert.Equal(t, tc.code, item.Code, tc.name)
			assert.Contains(t, item.Message, tc.msg, tc.name)
		}
		assert.Equal(t, before, d.upstreamJobs(t, "QR-ml"), "nothing was forwarded")
	})

	t.Run("a tenant never sees another tenant's instances or jobs", func(t *testing.T) {
		acme := &qiskitclient.Client{BaseURL: d.gateway, APIKey: "fatima-keyacme", CRN: "QR-acme"}
		instances, err := acme.Instances(ctx)
		require.NoError(t, err)
		require.Len(t, instances, 1)
		assert.Equal(t, "QR-acme", instances[0].Name)
		mine, err := fatima.Instances(ctx)
		require.NoError(t, err)
		for _, in := range mine {
			assert.NotEqual(t, "QR-acme", in.Name)
		}
		probe(t, call{"default's job id on acme's instance", acme, "GET", "/jobs/" + fatimasJob, 404, "job_not_found", ""})
		for _, key := range []string{"demo-fatima-key", "demo-admin-key"} {
			c := &qiskitclient.Client{BaseURL: d.gateway, APIKey: key, CRN: "QR-acme"}
			probe(t, call{key + " on acme's instance", c, "GET", "/backends", 403, "instance_not_accessible", "tenant default"})
		}
	})

	t.Run("a tenant never sees another tenant's users", func(t *testing.T) {
		list := func(key string) (int, map[string]any) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.gateway+"/auth/users", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "apikey "+key)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var out map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			return resp.StatusCode, out
		}
		status, acme := list("fatima-keyacme")
		require.Equal(t, http.StatusOK, status, acme)
		assert.Equal(t, []any{map[string]any{"user": "fatima", "projects": []any{"lab"}}}, acme["users"])
		status, def := list("demo-admin-key")
		require.Equal(t, http.StatusOK, status, def)
		var names []string
		for _, u := range def["users"].([]any) {
			names = append(names, u.(map[string]any)["user"].(string))
		}
		assert.Contains(t, names, "rita")
		assert.Contains(t, names, "grace")
		status, hidden := list("ian-key")
		assert.Equal(t, http.StatusForbidden, status, "an intern holds no user:view and the tenant hides its users")
		assert.Contains(t, fmt.Sprint(hidden), "user_list_hidden")
	})

	t.Run("the tenant admin sees and manages every project's jobs", func(t *testing.T) {
		admin := as("demo-admin-key", "QR-common")
		ravisJob := submit(as("demo-ravi-key", "QR-common"))
		fatimas := submit(as("demo-fatima-key", "QR-common"))
		var list runtimeapi.JobList
		require.NoError(t, admin.JSON(ctx, http.MethodGet, "/jobs?limit=100", nil, &list))
		assert.True(t, containsJob(list, ravisJob) && containsJob(list, fatimas))
		probe(t, call{"admin deletes", admin, "DELETE", "/jobs/" + ravisJob, 0, "", ""})
	})
}
