package simulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/qiskitclient"
)

// client sends raw requests with the Qiskit client's headers, so tests can
// also send what a well-behaved client never would (no token, no CRN).
type client struct {
	t     *testing.T
	base  string
	token string
	crn   string
}

func startServer(t *testing.T, cfg Config, opts ...Option) (*Server, *httptest.Server) {
	t.Helper()
	sim, err := New(cfg, opts...)
	require.NoError(t, err)
	ts := httptest.NewServer(sim)
	t.Cleanup(func() {
		ts.Close()
		require.NoError(t, sim.Close())
	})
	return sim, ts
}

// newClient returns a raw client holding a token for the demo API key.
func newClient(t *testing.T, base, crn string) *client {
	tr, err := (&qiskitclient.Client{BaseURL: base, APIKey: DemoAPIKey}).ExchangeAPIKey(t.Context())
	require.NoError(t, err)
	return &client{t: t, base: base, token: tr.AccessToken, crn: crn}
}

// do sends a Runtime API request and returns the status and body.
func (c *client) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, ok := body.([]byte)
		if !ok {
			var err error
			raw, err = json.Marshal(body)
			require.NoError(c.t, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.crn != "" {
		req.Header.Set("Service-CRN", c.crn)
	}
	req.Header.Set("IBM-API-Version", qiskitclient.APIVersion)
	req.Header.Set("X-Qx-Client-Application", qiskitclient.ClientApplication)
	req.Header.Set("Accept-Encoding", "identity")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, out
}

// json sends a request, requires the status and decodes the answer.
func (c *client) json(method, path string, body any, status int, out any) {
	c.t.Helper()
	got, raw := c.do(method, path, body)
	require.Equal(c.t, status, got, "%s %s: %s", method, path, raw)
	if out != nil {
		require.NoError(c.t, json.Unmarshal(raw, out), "%s %s: %s", method, path, raw)
	}
}

// submit posts a primitive job and returns its id.
func (c *client) submit(program, backend string, params map[string]any, extra map[string]any) string {
	c.t.Helper()
	body := map[string]any{"program_id": program, "params": params, "log_level": "WARNING", "backend": backend}
	for k, v := range extra {
		body[k] = v
	}
	var created runtimeapi.JobCreated
	c.json(http.MethodPost, "/api/v1/jobs", body, http.StatusOK, &created)
	require.NotEmpty(c.t, created.ID)
	require.Equal(c.t, backend, created.Backend)
	return created.ID
}

// wait polls the job until it is final, as job.result() does.
func (c *client) wait(id string) runtimeapi.Job {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var j runtimeapi.Job
		c.json(http.MethodGet, "/api/v1/jobs/"+id+"?exclude_params=true", nil, http.StatusOK, &j)
		if runtimeapi.Final(j.State.Status) {
			return j
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("job %s did not finish", id)
	return runtimeapi.Job{}
}

// errorBody decodes and checks the Runtime API error body.
func errorBody(t *testing.T, raw []byte) runtimeapi.ErrorItem {
	t.Helper()
	var e runtimeapi.ErrorBody
	require.NoError(t, json.Unmarshal(raw, &e), "not an error body: %s", raw)
	require.Len(t, e.Errors, 1, "error body: %s", raw)
	require.NotEmpty(t, e.Trace)
	require.NotEmpty(t, e.Errors[0].Code)
	return e.Errors[0]
}
