package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/qiskitclient"
	"github.com/qgov/qgov/simulator"
)

// upstreamJobs counts the jobs the simulator holds on an instance, seen
// with the organisation's own key.
func (d *demo) upstreamJobs(t *testing.T, alias string) int {
	c := &qiskitclient.Client{BaseURL: d.sim, APIKey: simulator.DemoAPIKey, CRN: crn(alias)}
	var list runtimeapi.JobList
	require.NoError(t, c.JSON(context.Background(), http.MethodGet, "/jobs?limit=1", nil, &list))
	return list.Count
}

const bell = `OPENQASM 3.0; include "stdgates.inc"; bit[2] c; h $0; cx $0, $1; c[0] = measure $0; c[1] = measure $1;`

func bellJob(tags ...string) runtimeapi.JobRequest {
	return runtimeapi.JobRequest{ProgramID: "sampler", Backend: "qgov_simulator", Tags: tags,
		Params: json.RawMessage(fmt.Sprintf(`{"pubs":[[%q,null,64]],"version":2}`, bell))}
}

// TestGatewayDemoScenario replays a Qiskit client session through the
// gateway for each user of the demo scenario on an instance their project
// may use, then checks every denied path of the scenario.
func TestGatewayDemoScenario(t *testing.T) {
	d := startDemo(t)
	ctx := t.Context()

	for _, tc := range []struct{ user, key, alias string }{
		{"fatima", "demo-fatima-key", "QR-ml"},
		{"ravi", "demo-ravi-key", "QR-finance"},
		{"amyra", "demo-amyra-key", "QR-common"},
		{"amyra", "demo-amyra-key", "QR-finance"},
	} {
		t.Run(tc.user+" on "+tc.alias, func(t *testing.T) {
			report, err := qiskitclient.Session(ctx, d.client(tc.key, tc.alias))
			require.NoError(t, err)
			assert.Equal(t, map[string]int{"00": 0, "11": 0}, keysOf(report.Counts), "a Bell pair only yields 00 and 11")
		})
	}

	t.Run("discovery lists only the caller's instances", func(t *testing.T) {
		for key, want := range map[string][]string{
			"demo-fatima-key": {"QR-ml", "QR-common"},
			"demo-ravi-key":   {"QR-finance", "QR-common"},
			"demo-amyra-key":  {"QR-ml", "QR-finance", "QR-common"},
		} {
			instances, err := d.client(key, "QR-ml").Instances(ctx)
			require.NoError(t, err)
			var names []string
			for _, in := range instances {
				names = append(names, in.Name)
				assert.Equal(t, crn(in.Name), in.CRN)
			}
			assert.ElementsMatch(t, want, names, key)
		}
	})

	// Fatima submits on the shared instance; the job belongs to ml.
	fatima := d.client("demo-fatima-key", "QR-common")
	job, err := fatima.Submit(ctx, bellJob("experiment:e1"))
	require.NoError(t, err)
	_, err = fatima.Wait(ctx, job.ID, 20*time.Millisecond)
	require.NoError(t, err)

	t.Run("job visibility follows projects", func(t *testing.T) {
		ravi := d.client("demo-ravi-key", "QR-common")
		for _, probe := range []struct{ method, path string }{
			{http.MethodGet, "/jobs/" + job.ID},
			{http.MethodGet, "/jobs/" + job.ID + "/results"},
			{http.MethodPost, "/jobs/" + job.ID + "/cancel"},
			{http.MethodDelete, "/jobs/" + job.ID},
			{http.MethodPut, "/jobs/" + job.ID + "/tags"},
		} {
			status, body, err := ravi.Do(ctx, probe.method, probe.path, []byte(`{"tags":["x"]}`))
			require.NoError(t, err)
			assert.Equal(t, http.StatusNotFound, status, "%s %s: %s", probe.method, probe.path, body)
			assert.Contains(t, string(body), "job_not_found")
		}
		var list runtimeapi.JobList
		require.NoError(t, ravi.JSON(ctx, http.MethodGet, "/jobs?limit=50", nil, &list))
		for _, j := range list.Jobs {
			assert.NotEqual(t, job.ID, j.ID, "Ravi's list must not show ml's job")
		}
		assert.Equal(t, len(list.Jobs), list.Count, "count matches what can be paged through")

		ravisJob, err := ravi.Submit(ctx, bellJob())
		require.NoError(t, err)
		require.NoError(t, fatima.JSON(ctx, http.MethodGet, "/jobs?limit=50", nil, &list))
		assert.True(t, containsJob(list, job.ID))
		assert.False(t, containsJob(list, ravisJob.ID), "Fatima's list must not show finance's job")
		assert.Equal(t, len(list.Jobs), list.Count)
		assert.Greater(t, d.upstreamJobs(t, "QR-common"), list.Count, "the upstream holds finance's jobs too")

		amyra := d.client("demo-amyra-key", "QR-common")
		got, err := amyra.Job(ctx, job.ID)
		require.NoError(t, err, "Amyra is in ml")
		assert.Equal(t, job.ID, got.ID)
		require.NoError(t, amyra.JSON(ctx, http.MethodGet, "/jobs?limit=50", nil, &list))
		assert.True(t, containsJob(list, job.ID))
		assert.True(t, containsJob(list, ravisJob.ID), "Amyra is in finance too")
		assert.Equal(t, len(list.Jobs), list.Count)
	})

	t.Run("list paging keeps count consistent", func(t *testing.T) {
		amyra := d.client("demo-amyra-key", "QR-common")
		var all runtimeapi.JobList
		require.NoError(t, amyra.JSON(ctx, http.MethodGet, "/jobs?limit=1000", nil, &all))
		var paged []string
		for offset := 0; offset < all.Count; offset += 2 {
			var page runtimeapi.JobList
			require.NoError(t, amyra.JSON(ctx, http.MethodGet, fmt.Sprintf("/jobs?limit=2&offset=%d", offset), nil, &page))
			assert.Equal(t, all.Count, page.Count)
			require.NotEmpty(t, page.Jobs, "an empty page while count promises more makes the client loop forever")
			for _, j := range page.Jobs {
				paged = append(paged, j.ID)
			}
		}
		var want []string
		for _, j := range all.Jobs {
			want = append(want, j.ID)
		}
		assert.Equal(t, want, paged)
	})

	t.Run("denied requests", func(t *testing.T) {
		before := d.upstreamJobs(t, "QR-common")
		token := func(key string) string {
			tok, err := d.client(key, "QR-ml").Token(ctx)
			require.NoError(t, err)
			return tok
		}
		fatimaTok := token("demo-fatima-key")
		for _, tc := range []struct {
			name          string
			method, path  string
			auth, service string
			body          string
			status        int
			code, message string
		}{
			{"no credential", "GET", "/api/v1/backends", "", crn("QR-ml"), "", 401, "unauthorized", "missing Authorization"},
			{"unknown API key", "GET", "/api/v1/backends", "apikey not-a-key", crn("QR-ml"), "", 401, "unauthorized", "API key is not valid"},
			{"forged token", "GET", "/api/v1/backends", "Bearer " + fatimaTok[:len(fatimaTok)-6] + "AAAAAA", crn("QR-ml"), "", 401, "unauthorized", "signature"},
			{"upstream token is not a gateway token", "GET", "/api/v1/backends", "Bearer " + upstreamToken(t, d), crn("QR-ml"), "", 401, "unauthorized", "not accepted by this gateway"},
			{"no Service-CRN", "GET", "/api/v1/backends", "Bearer " + fatimaTok, "", "", 400, "missing_service_crn", "Service-CRN"},
			{"instance outside the project", "GET", "/api/v1/backends", "Bearer " + fatimaTok, "QR-finance", "", 403, "instance_not_accessible", "their projects [ml]"},
			{"real CRN outside the project", "POST", "/api/v1/jobs", "Bearer " + fatimaTok, crn("QR-finance"), `{"program_id":"sampler","params":{"pubs":[]}}`, 403, "instance_not_accessible", "may not use service instance"},
			{"forged CRN", "GET", "/api/v1/backends", "Bearer " + fatimaTok, crn("QR-ml") + "x", "", 403, "instance_not_accessible", "may not use service instance"},
			{"project not granted", "POST", "/api/v1/jobs", "Bearer " + fatimaTok, "QR-common", `{"program_id":"sampler","tags":["project:finance"],"params":{"pubs":[[` + fmt.Sprintf("%q", bell) + `]]}}`, 403, "project_not_accessible", `project "finance"`},
			{"malformed job body", "POST", "/api/v1/jobs", "Bearer " + fatimaTok, "QR-common", `{"program_id":`, 400, "invalid_json", "malformed JSON"},
			{"job without program", "POST", "/api/v1/jobs", "Bearer " + fatimaTok, "QR-common", `{"params":{}}`, 400, "missing_program_id", "program_id"},
			{"body over the limit", "POST", "/api/v1/jobs", "Bearer " + fatimaTok, "QR-common", `{"program_id":"sampler","params":"` + strings.Repeat("x", 300<<10) + `"}`, 413, "body_too_large", "262144 bytes"},
			{"unknown job", "GET", "/api/v1/jobs/nope", "Bearer " + fatimaTok, "QR-common", "", 404, "job_not_found", "job nope not found"},
			{"session of nobody", "POST", "/api/v1/jobs", "Bearer " + fatimaTok, "QR-common", `{"program_id":"sampler","session_id":"s-1","params":{"pubs":[[` + fmt.Sprintf("%q", bell) + `]]}}`, 404, "session_not_found", "session s-1"},
			{"route outside the API", "GET", "/api/v1/versions", "Bearer " + fatimaTok, "QR-ml", "", 404, "unknown_route", "/api/v1/versions"},
			{"path trick", "GET", "/api/v1/jobs/../backends", "Bearer " + fatimaTok, "QR-ml", "", 404, "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, err := http.NewRequestWithContext(ctx, tc.method, d.gateway+tc.path, strings.NewReader(tc.body))
				require.NoError(t, err)
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				if tc.service != "" {
					req.Header.Set("Service-CRN", tc.service)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				assert.Equal(t, tc.status, resp.StatusCode, string(body))
				if tc.code == "" {
					return
				}
				var eb runtimeapi.ErrorBody
				require.NoError(t, json.Unmarshal(body, &eb), string(body))
				require.Len(t, eb.Errors, 1)
				assert.Equal(t, tc.code, eb.Errors[0].Code)
				assert.Contains(t, eb.Errors[0].Message, tc.message)
				assert.NotEmpty(t, eb.Trace)
				assert.NotContains(t, string(body), simulator.DemoAPIKey)
			})
		}
		assert.Equal(t, before, d.upstreamJobs(t, "QR-common"), "no denied request reached the upstream")
	})

	t.Run("the upstream credential stays secret", func(t *testing.T) {
		resp, err := http.Get("http://localhost:2999/config/")
		require.NoError(t, err)
		defer resp.Body.Close()
		cfg, _ := io.ReadAll(resp.Body)
		assert.Contains(t, string(cfg), "{env.QGOV_DEMO_UPSTREAM_KEY}")
		assert.NotContains(t, string(cfg), simulator.DemoAPIKey)
	})

	t.Run("the IAM stand-in speaks IAM", func(t *testing.T) {
		resp, err := http.PostForm(d.gateway+"/identity/token", map[string][]string{
			"grant_type": {"urn:ibm:params:oauth:grant-type:apikey"}, "apikey": {"wrong"}})
		require.NoError(t, err)
		defer resp.Body.Close()
		var e struct{ ErrorCode, ErrorMessage string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "BXNIM0415E", e.ErrorCode)
	})
}

// upstreamToken is a valid token of the simulator's IAM: the gateway must
// not accept the upstream's tokens as its own.
func upstreamToken(t *testing.T, d *demo) string {
	tok, err := (&qiskitclient.Client{BaseURL: d.sim, APIKey: simulator.DemoAPIKey}).Token(context.Background())
	require.NoError(t, err)
	return tok
}

func keysOf(counts map[string]int) map[string]int {
	out := map[string]int{}
	for k := range counts {
		out[k] = 0
	}
	return out
}

func containsJob(list runtimeapi.JobList, id string) bool {
	for _, j := range list.Jobs {
		if j.ID == id {
			return true
		}
	}
	return false
}

// TestGatewayReloadUnderTraffic reloads the config while clients poll a
// job: no request gets an error answer (a rare connection reset at the
// reload's instant never reached the gateway), issued tokens stay valid
// and ownership records survive, because the store and token caches are
// pooled.
func TestGatewayReloadUnderTraffic(t *testing.T) {
	d := startDemo(t)
	ctx := t.Context()
	fatima := d.client("demo-fatima-key", "QR-ml")
	fatima.HTTP = keepAlive()
	job, err := fatima.Submit(ctx, bellJob())
	require.NoError(t, err)

	reloaded := replaceOnce(t, d.config, "\tqgov\n", "\trespond /health \"ok\"\n\tqgov\n")
	require.NotEqual(t, d.config, reloaded)
	requests, failures, resets := underTraffic(func(int) error { _, err := fatima.Job(ctx, job.ID); return err }, func() {
		d.tester.InitServer(reloaded, "caddyfile")
	})
	assert.Zero(t, failures, "of %d requests during the reload", requests)
	assert.LessOrEqual(t, resets*20, requests, "connection resets at the reload's instant only")
	assert.Greater(t, requests, int64(10))

	resp, err := http.Get(d.gateway + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the new config is live")
	_, err = fatima.Job(ctx, job.ID)
	require.NoError(t, err, "the token and the ownership record survived")
}
