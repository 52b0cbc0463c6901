package simulator

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/qiskitclient"
)

// TestBadInput sends malformed and unauthorised requests; each gets its
// status and the Runtime API error body, and the simulator keeps serving.
func TestBadInput(t *testing.T) {
	cfg := Default()
	cfg.MaxQubits = 4
	cfg.MaxBodyBytes = 4096
	_, ts := startServer(t, cfg)
	good := newClient(t, ts.URL, DemoCRN("qr-ml"))

	// A token from another simulator (another signing key) is forged here.
	_, other := startServer(t, Default())
	forged := newClient(t, other.URL, DemoCRN("qr-ml")).token

	job := func(params string) []byte {
		return []byte(`{"program_id":"sampler","backend":"ibm_qgov_eagle","params":` + params + `}`)
	}
	for _, tc := range []struct {
		name   string
		token  string
		crn    string
		method string
		path   string
		body   []byte
		status int
		code   string
		msg    string
	}{
		{"no token", "-", "", "GET", "/api/v1/backends", nil, 401, "unauthorized", "missing Authorization"},
		{"forged token", forged, "", "GET", "/api/v1/backends", nil, 401, "unauthorized", "signature"},
		{"garbage token", "abc.def", "", "GET", "/api/v1/backends", nil, 401, "unauthorized", "not a valid JWT"},
		{"no Service-CRN", "", "-", "GET", "/api/v1/backends", nil, 400, "missing_service_crn", "Service-CRN"},
		{"unknown instance", "", "crn:v1:bluemix:public:quantum-computing:us-east:a/x:nope::", "GET", "/api/v1/backends", nil, 403, "instance_not_accessible", "does not exist"},
		{"unknown backend", "", "", "GET", "/api/v1/backends/ibm_nowhere/configuration", nil, 404, "backend_not_found", "ibm_nowhere"},
		{"simulator has no properties", "", "", "GET", "/api/v1/backends/qgov_simulator/properties", nil, 404, "properties_not_found", ""},
		{"malformed JSON", "", "", "POST", "/api/v1/jobs", []byte(`{"program_id": "sampler",`), 400, "invalid_json", "malformed JSON"},
		{"unknown program", "", "", "POST", "/api/v1/jobs", []byte(`{"program_id":"circuit-runner","backend":"ibm_qgov_eagle","params":{}}`), 404, "program_not_found", "circuit-runner"},
		{"unknown backend on submit", "", "", "POST", "/api/v1/jobs", []byte(`{"program_id":"sampler","backend":"ibm_nowhere","params":{"pubs":[]}}`), 400, "backend_not_found", "ibm_nowhere"},
		{"missing backend", "", "", "POST", "/api/v1/jobs", []byte(`{"program_id":"sampler","params":{"pubs":[]}}`), 400, "missing_backend", ""},
		{"pub of the wrong shape", "", "", "POST", "/api/v1/jobs", job(`{"pubs":[{"circuit":"x"}]}`), 400, "invalid_pubs", "pubs[0]: a pub must be a list"},
		{"malformed circuit", "", "", "POST", "/api/v1/jobs", job(`{"pubs":[["OPENQASM 3.0;\nbit c;\nh $0;\ncx $0;\n"]]}`), 400, "invalid_circuit", "line 4, column 1"},
		{"over the qubit limit", "", "", "POST", "/api/v1/jobs", job(`{"pubs":[["OPENQASM 3.0; bit c; h $0; h $1; h $2; h $3; h $4; c = measure $0;"]]}`), 400, "too_many_qubits", "limit is 4"},
		{"wider than the backend", "", "", "POST", "/api/v1/jobs", job(`{"pubs":[["OPENQASM 3.0; bit c; h $200; c = measure $200;"]]}`), 400, "too_many_qubits", "has 127"},
		{"too many shots", "", "", "POST", "/api/v1/jobs", job(`{"pubs":[["OPENQASM 3.0; bit c; c = measure $0;", null, 1000000]]}`), 400, "too_many_shots", ""},
		{"max_execution_time over the cap", "", "", "POST", "/api/v1/jobs", []byte(`{"program_id":"sampler","backend":"ibm_qgov_eagle","cost":99999999,"params":{"pubs":[]}}`), 400, "invalid_cost", ""},
		{"oversized body", "", "", "POST", "/api/v1/jobs", job(`{"pubs":[["` + strings.Repeat("x", 5000) + `"]]}`), 413, "body_too_large", "4096"},
		{"unknown job", "", "", "GET", "/api/v1/jobs/nosuchjob", nil, 404, "job_not_found", "nosuchjob"},
		{"unknown job results", "", "", "GET", "/api/v1/jobs/nosuchjob/results", nil, 404, "job_not_found", ""},
		{"unknown session", "", "", "GET", "/api/v1/sessions/nosuch", nil, 404, "session_not_found", ""},
		{"bad session mode", "", "", "POST", "/api/v1/sessions", []byte(`{"mode":"exclusive","backend":"ibm_qgov_eagle"}`), 400, "invalid_mode", ""},
		{"bad list limit", "", "", "GET", "/api/v1/jobs?limit=-1", nil, 400, "invalid_limit", ""},
		{"bad created_after", "", "", "GET", "/api/v1/jobs?created_after=yesterday", nil, 400, "invalid_created_after", ""},
		{"tags of the wrong shape", "", "", "PUT", "/api/v1/jobs/x/tags", []byte(`{"tags":"a"}`), 400, "invalid_json", ""},
		{"unknown route", "", "", "GET", "/api/v1/nothing", nil, 404, "not_found", ""},
		{"wrong method", "", "", "DELETE", "/api/v1/backends", nil, 405, "method_not_allowed", "allowed: GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// "" keeps the good value, "-" sends none.
			pick := func(override, good string) string {
				switch override {
				case "":
					return good
				case "-":
					return ""
				}
				return override
			}
			c := &client{t: t, base: ts.URL, token: pick(tc.token, good.token), crn: pick(tc.crn, good.crn)}
			code, raw := c.do(tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, code, "%s", raw)
			e := errorBody(t, raw)
			assert.Equal(t, tc.code, e.Code)
			assert.Contains(t, e.Message, tc.msg)
		})
	}

	// The simulator still serves after all of that.
	good.json(http.MethodGet, "/api/v1/backends", nil, http.StatusOK, nil)
}

func TestIAMErrors(t *testing.T) {
	_, ts := startServer(t, Default())
	for key, code := range map[string]string{"not-a-key": "BXNIM0415E", "": "BXNIM0109E"} {
		_, err := (&qiskitclient.Client{BaseURL: ts.URL, APIKey: key}).ExchangeAPIKey(t.Context())
		var e *qiskitclient.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, http.StatusBadRequest, e.Status)
		assert.Contains(t, string(e.Body), code)
	}
}

// TestExpiredToken issues a token, moves the clock past its expiry and
// expects 401.
func TestExpiredToken(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, ts := startServer(t, Default(), WithClock(clock))
	c := newClient(t, ts.URL, DemoCRN("qr-ml"))
	c.json(http.MethodGet, "/api/v1/backends", nil, http.StatusOK, nil)
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	code, raw := c.do(http.MethodGet, "/api/v1/backends", nil)
	require.Equal(t, http.StatusUnauthorized, code)
	assert.Contains(t, errorBody(t, raw).Message, "expired")
}

// TestApiKeyFallback accepts the client's "apikey <key>" fallback header.
func TestApiKeyFallback(t *testing.T) {
	_, ts := startServer(t, Default())
	c := &client{t: t, base: ts.URL, crn: DemoCRN("qr-ml")}
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/backends", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "apikey "+DemoAPIKey)
	req.Header.Set("Service-CRN", c.crn)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestMaxExecutionTime cancels a job that runs past its max_execution_time
// with reason code 1305, which the client reports as a timeout error.
func TestMaxExecutionTime(t *testing.T) {
	_, ts := startServer(t, Default())
	c := newClient(t, ts.URL, DemoCRN("qr-ml"))
	id := c.submit("sampler", "qgov_simulator", map[string]any{"pubs": []any{[]any{qiskitclient.SlowCircuit(20), nil, 100000}}}, map[string]any{"cost": 1})
	j := c.wait(id)
	assert.Equal(t, runtimeapi.StatusCancelled, j.State.Status)
	assert.Equal(t, runtimeapi.ReasonCodeRanTooLong, j.State.ReasonCode)
	assert.Contains(t, j.State.Reason, "maximum execution time of 1 s")

	// A fractional limit rounds up to whole seconds rather than to zero.
	id = c.submit("sampler", "qgov_simulator", map[string]any{"pubs": []any{[]any{qiskitclient.BellCircuit, nil, 10}}}, map[string]any{"cost": 0.5})
	j = c.wait(id)
	assert.Equal(t, runtimeapi.StatusCompleted, j.State.Status, j.State.Reason)
	assert.Equal(t, 1, j.Cost)
}

// TestQueueBound answers 429 when the queue is full and accepts again once
// it drains.
func TestQueueBound(t *testing.T) {
	cfg := Default()
	cfg.Workers, cfg.QueueSize = 1, 1
	_, ts := startServer(t, cfg)
	c := newClient(t, ts.URL, DemoCRN("qr-ml"))
	slow := map[string]any{"pubs": []any{[]any{qiskitclient.SlowCircuit(18), nil, 100000}}}
	running := c.submit("sampler", "qgov_simulator", slow, nil)
	require.Eventually(t, func() bool {
		var j runtimeapi.Job
		c.json(http.MethodGet, "/api/v1/jobs/"+running, nil, http.StatusOK, &j)
		return j.State.Status == runtimeapi.StatusRunning
	}, 10*time.Second, 10*time.Millisecond)
	queued := c.submit("sampler", "qgov_simulator", slow, nil)
	code, raw := c.do(http.MethodPost, "/api/v1/jobs", map[string]any{"program_id": "sampler", "backend": "qgov_simulator", "params": slow})
	require.Equal(t, http.StatusTooManyRequests, code)
	assert.Equal(t, "queue_full", errorBody(t, raw).Code)
	var list runtimeapi.JobList
	c.json(http.MethodGet, "/api/v1/jobs", nil, http.StatusOK, &list)
	assert.Equal(t, 2, list.Count, "the refused job was not stored")
	for _, id := range []string{running, queued} {
		code, _ := c.do(http.MethodPost, "/api/v1/jobs/"+id+"/cancel", nil)
		require.Equal(t, http.StatusNoContent, code)
	}
	c.wait(running)
}

// TestUsageLimit refuses submissions once the instance's quantum time is
// used up.
func TestUsageLimit(t *testing.T) {
	cfg := Default()
	limit := 3.0
	cfg.Instances = []InstanceConfig{{Name: "QR-small", CRN: DemoCRN("qr-small"), APIKeys: []string{DemoAPIKey}, UsageLimitSeconds: &limit}}
	_, ts := startServer(t, cfg)
	c := newClient(t, ts.URL, "QR-small")
	params := map[string]any{"pubs": []any{[]any{qiskitclient.BellCircuit, nil, 100}}}
	c.wait(c.submit("sampler", "ibm_qgov_eagle", params, nil))
	code, raw := c.do(http.MethodPost, "/api/v1/jobs", map[string]any{"program_id": "sampler", "backend": "ibm_qgov_eagle", "params": params})
	require.Equal(t, http.StatusForbidden, code)
	assert.Equal(t, "usage_limit_reached", errorBody(t, raw).Code)
	var usage runtimeapi.InstanceUsage
	c.json(http.MethodGet, "/api/v1/instances/usage", nil, http.StatusOK, &usage)
	assert.True(t, usage.UsageLimitReached)
	assert.Equal(t, 0.0, *usage.UsageRemainingSeconds)
	// Simulator backends charge nothing and stay usable.
	c.wait(c.submit("sampler", "qgov_simulator", params, nil))
}

// TestRetention keeps only the configured number of finished jobs.
func TestRetention(t *testing.T) {
	cfg := Default()
	cfg.RetainJobs = 2
	_, ts := startServer(t, cfg)
	c := newClient(t, ts.URL, DemoCRN("qr-ml"))
	var ids []string
	for i := 0; i < 4; i++ {
		id := c.submit("sampler", "qgov_simulator", map[string]any{"pubs": []any{[]any{qiskitclient.BellCircuit, nil, 10}}}, nil)
		c.wait(id)
		ids = append(ids, id)
	}
	var list runtimeapi.JobList
	c.json(http.MethodGet, "/api/v1/jobs", nil, http.StatusOK, &list)
	assert.Equal(t, 2, list.Count)
	code, _ := c.do(http.MethodGet, "/api/v1/jobs/"+ids[0], nil)
	assert.Equal(t, http.StatusNotFound, code)
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		msg  string
	}{
		{"bad crn", func(c *Config) { c.Instances[0].CRN = "QR-ml" }, "is not a CRN"},
		{"no keys", func(c *Config) { c.Instances[0].APIKeys = nil }, "api_keys"},
		{"unknown plan", func(c *Config) { c.Instances[0].Plan = "gold" }, "unknown plan"},
		{"unknown instance backend", func(c *Config) { c.Instances[0].Backends = []string{"x"} }, `unknown backend "x"`},
		{"eagle size", func(c *Config) { c.Backends[0].NumQubits = 100 }, "exactly 127"},
		{"max qubits", func(c *Config) { c.MaxQubits = 40 }, "max_qubits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			tc.mut(&cfg)
			_, err := New(cfg)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

// TestTimestamps checks the date-time forms the client sends and that
// answers carry at most microseconds.
func TestTimestamps(t *testing.T) {
	for _, v := range []string{"2026-01-02T03:04:05.123456+00:00", "2026-01-02T03:04:05 00:00", "2026-01-02T03:04:05.5", "2026-01-02T03:04:05Z"} {
		_, err := parseTime(v)
		assert.NoError(t, err, v)
	}
	_, err := parseTime("yesterday")
	assert.Error(t, err)

	_, ts := startServer(t, Default())
	c := newClient(t, ts.URL, DemoCRN("qr-ml"))
	id := c.submit("sampler", "qgov_simulator", map[string]any{"pubs": []any{[]any{qiskitclient.BellCircuit, nil, 10}}}, nil)
	j := c.wait(id)
	assert.Equal(t, j.Created, j.Created.Truncate(time.Microsecond))
	c.json(http.MethodGet, "/api/v1/backends/ibm_qgov_eagle/properties?updated_before=2026-01-02T03:04:05.123456", nil, http.StatusOK, nil)
	var list runtimeapi.JobList
	c.json(http.MethodGet, "/api/v1/jobs?created_after="+url.QueryEscape(j.Created.Add(-time.Second).Format(time.RFC3339Nano)), nil, http.StatusOK, &list)
	assert.Equal(t, 1, list.Count)
	at := url.QueryEscape(j.Created.Format(time.RFC3339Nano))
	c.json(http.MethodGet, "/api/v1/jobs?created_after="+at+"&created_before="+at, nil, http.StatusOK, &list)
	assert.Equal(t, 1, list.Count, "both bounds are inclusive, as the client documents them")
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := dir + "/" + name
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		return path
	}
	cfg, err := LoadConfig(write("ok.json", `{"instances":[{"name":"QR-lab","crn":"crn:v1:bluemix:public:quantum-computing:eu-de:a/acme:qr-lab::","api_keys":["k"]}],"max_qubits":20}`))
	require.NoError(t, err)
	assert.Equal(t, 20, cfg.MaxQubits)
	assert.Equal(t, "standard", cfg.Instances[0].Plan, "defaults fill omitted fields")
	assert.Len(t, cfg.Backends, 3)

	_, err = LoadConfig(write("unknown.json", `{"max_qbits": 20}`))
	require.ErrorContains(t, err, `unknown field "max_qbits"`)
	_, err = LoadConfig(write("bad.json", `{"max_qubits": 99}`))
	require.ErrorContains(t, err, "max_qubits must be 1 to 34")
	_, err = LoadConfig(dir + "/missing.json")
	require.ErrorContains(t, err, "reading simulator config")
}
