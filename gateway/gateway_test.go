package gateway

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/iam"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/jobs"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/simulator"
	"github.com/qgov/qgov/store"
)

// stdProxy forwards with the standard library's reverse proxy, so the
// pipeline is tested without Caddy (the caddymodule tests use Caddy's).
type stdProxy struct{}

func (stdProxy) Forward(w http.ResponseWriter, r *http.Request, in *org.Instance) error {
	target, _ := url.Parse(in.Upstream)
	(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
	}}).ServeHTTP(w, r)
	return nil
}

// newTestGateway runs the gateway in front of a real simulator.
func newTestGateway(t *testing.T) *httptest.Server {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "qgov.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	srv, _ := newRig(t).serve(t, st, nil)
	return srv
}

// rig is a real simulator with the organisation of the gateway tests.
type rig struct {
	dir    *org.Directory
	ring   *identity.KeyRing
	signer *iam.Signer
}

// newRig starts the simulator and builds the organisation; edits may
// extend it.
func newRig(t *testing.T, edits ...func(*org.Config)) *rig {
	cfg := simulator.Default()
	cfg.QueueSize = 1000
	sim, err := simulator.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	up := httptest.NewServer(sim)
	t.Cleanup(up.Close)

	instance := func(alias, key string) org.Instance {
		return org.Instance{Alias: alias, CRN: simulator.DemoCRN(strings.ToLower(alias)), Upstream: up.URL + "/api/v1", IAMURL: up.URL, APIKey: key}
	}
	oc := org.Config{
		Instances: []org.Instance{instance("QR-ml", simulator.DemoAPIKey), {Alias: "QR-finance", CRN: simulator.DemoCRN("qr-finance"), Upstream: up.URL + "/api/v1", IAMURL: up.URL, APIKey: "revoked-upstream-key"}},
		Projects:  []org.Project{{Name: "ml", Instances: []string{"QR-ml", "QR-finance"}}, {Name: "finance", Instances: []string{"QR-ml"}}},
		AccessGroups: []org.AccessGroup{
			{Name: "ml", Projects: []string{"ml"}, Roles: []string{"researcher"}, Members: []string{"fatima"}},
			{Name: "finance", Projects: []string{"finance"}, Roles: []string{"researcher"}, Members: []string{"ravi"}},
		},
	}
	for _, edit := range edits {
		edit(&oc)
	}
	dir, err := org.NewDirectory(oc)
	require.NoError(t, err)
	ring, err := identity.NewKeyRing([]identity.APIKey{
		{ID: "f", Key: "fatima-key", User: "fatima"},
		{ID: "r", Key: "ravi-key", User: "ravi"},
		{ID: "l", Key: "lee-key", User: "lee", Email: "lee@example.org"},
		{ID: "a", Key: "root-key", User: "root", Email: "admin@example.com"},
		{ID: "s", Key: "sam-key", User: "sam"},
	})
	require.NoError(t, err)
	key, err := iam.GenerateKey()
	require.NoError(t, err)
	signer, err := iam.NewSigner([]*rsa.PrivateKey{key}, "qgov", time.Hour)
	require.NoError(t, err)
	return &rig{dir: dir, ring: ring, signer: signer}
}

// MountGovernance mounts the governance API on the tests' gateways. The
// API is package govapi, which imports this one, so the external test
// package sets it (mount_test.go).
var MountGovernance func(*Gateway)

// serve runs a gateway of the rig over a store; edit may change its
// configuration.
func (rg *rig) serve(t *testing.T, st store.Store, edit func(*Config)) (*httptest.Server, *Gateway) {
	creds := map[string]Credentials{}
	for _, in := range rg.dir.Instances() {
		creds[in.Alias] = iam.NewTokenSource(in.IAMURL, in.APIKey, nil)
	}
	current := org.NewCurrent(rg.dir)
	cfg := Config{
		Directory: current, Auth: &identity.Authenticator{Keys: rg.ring, Tokens: rg.signer, Directory: current, Now: time.Now},
		Jobs: jobs.NewRegistry(st, "jobs"), Sessions: jobs.NewRegistry(st, "sessions"),
		Upstream: stdProxy{}, Credentials: func(in *org.Instance) Credentials { return creds[in.Alias] }, MaxBodyBytes: 1 << 20,
	}
	if edit != nil {
		edit(&cfg)
	}
	gw := New(cfg)
	if MountGovernance != nil {
		MountGovernance(gw)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Handles(r) {
			http.NotFound(w, r)
			return
		}
		gw.Serve(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, gw
}

func call(t *testing.T, srv *httptest.Server, key, method, path, body string) (int, []byte) {
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "apikey "+key)
	req.Header.Set("Service-CRN", "QR-ml")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestListSpansUpstreamPages lists a project's jobs when the upstream
// holds more than one page of them, interleaved with another project's:
// count and paging stay consistent.
func TestListSpansUpstreamPages(t *testing.T) {
	srv := newTestGateway(t)
	job := fmt.Sprintf(`{"program_id":"sampler","backend":"qgov_simulator","params":{"pubs":[[%q,null,1]]}}`,
		`OPENQASM 3.0; bit c; x $0; c = measure $0;`)
	fatimas := map[string]bool{}
	for i := 0; i < upstreamPage+15; i++ {
		key := "fatima-key"
		if i%40 == 0 {
			key = "ravi-key"
		}
		status, body := call(t, srv, key, "POST", "/api/v1/jobs", job)
		require.Equal(t, http.StatusOK, status, string(body))
		var created runtimeapi.JobCreated
		require.NoError(t, json.Unmarshal(body, &created))
		if key == "fatima-key" {
			fatimas[created.ID] = true
		}
	}
	var seen []string
	for offset := 0; ; offset += 50 {
		status, body := call(t, srv, "fatima-key", "GET", fmt.Sprintf("/api/v1/jobs?exclude_params=true&limit=50&offset=%d", offset), "")
		require.Equal(t, http.StatusOK, status, string(body))
		var list runtimeapi.JobList
		require.NoError(t, json.Unmarshal(body, &list))
		assert.Equal(t, len(fatimas), list.Count)
		if len(list.Jobs) == 0 {
			break
		}
		for _, j := range list.Jobs {
			assert.True(t, fatimas[j.ID], "only Fatima's project's jobs")
			seen = append(seen, j.ID)
		}
	}
	assert.Len(t, seen, len(fatimas))

	status, body := call(t, srv, "ravi-key", "GET", "/api/v1/jobs?limit=3", "")
	require.Equal(t, http.StatusOK, status)
	var list runtimeapi.JobList
	require.NoError(t, json.Unmarshal(body, &list))
	assert.Equal(t, 6, list.Count)
	assert.Len(t, list.Jobs, 3)

	status, body = call(t, srv, "ravi-key", "GET", "/api/v1/jobs?limit=0", "")
	assert.Equal(t, http.StatusBadRequest, status, string(body))
}

// TestUpstreamCredentialFailure: when the upstream IAM refuses the
// organisation's key, nothing is forwarded and the caller learns which
// instance failed, without the IAM's details.
func TestUpstreamCredentialFailure(t *testing.T) {
	srv := newTestGateway(t)
	req, err := http.NewRequest("GET", srv.URL+"/api/v1/backends", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "apikey fatima-key")
	req.Header.Set("Service-CRN", "QR-finance")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var eb runtimeapi.ErrorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&eb))
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Equal(t, "upstream_credentials", eb.Errors[0].Code)
	assert.Contains(t, eb.Errors[0].Message, "QR-finance")
	assert.NotContains(t, eb.Errors[0].Message, "revoked-upstream-key")
}

// TestCachedOwnersAnswerAsToday runs two replicas over one store: a job
// polled on one (its owner record now cached there) and deleted on the
// other gets, on both, the answer of a job that never existed; another
// tenant's user gets that answer throughout.
func TestCachedOwnersAnswerAsToday(t *testing.T) {
	rg := newRig(t)
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "qgov.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	a, _ := rg.serve(t, st, nil)
	b, _ := rg.serve(t, st, nil)
	status, body := call(t, a, "fatima-key", http.MethodPost, "/api/v1/jobs", isaJob)
	require.Equal(t, http.StatusOK, status, string(body))
	var job runtimeapi.JobCreated
	require.NoError(t, json.Unmarshal(body, &job))

	errorsOf := func(body []byte) string {
		var e struct{ Errors json.RawMessage }
		require.NoError(t, json.Unmarshal(body, &e), string(body))
		return string(e.Errors)
	}
	_, never := call(t, a, "fatima-key", http.MethodGet, "/api/v1/jobs/never-existed", "")
	absent := strings.ReplaceAll(errorsOf(never), "never-existed", job.ID)
	for range 2 {
		status, body = call(t, b, "fatima-key", http.MethodGet, "/api/v1/jobs/"+job.ID, "")
		assert.Equal(t, http.StatusOK, status, "its owner polls it: %s", body)
		status, body = call(t, b, "ravi-key", http.MethodGet, "/api/v1/jobs/"+job.ID, "")
		assert.Equal(t, http.StatusNotFound, status)
		assert.Equal(t, absent, errorsOf(body), "another project's user")
	}
	status, body = call(t, a, "fatima-key", http.MethodDelete, "/api/v1/jobs/"+job.ID, "")
	require.Equal(t, http.StatusNoContent, status, string(body))
	for name, srv := range map[string]*httptest.Server{"the replica that deleted it": a, "the replica that cached it": b} {
		status, body = call(t, srv, "fatima-key", http.MethodGet, "/api/v1/jobs/"+job.ID, "")
		assert.Equal(t, http.StatusNotFound, status, name)
		assert.Equal(t, absent, errorsOf(body), name)
	}
}

// TestMethodNotAllowedNamesTheMethods: a path asked with a method it is
// not served with is refused with 405 and an Allow header naming those
// it is.
func TestMethodNotAllowedNamesTheMethods(t *testing.T) {
	srv := newTestGateway(t)
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodGet, "/identity/token", "POST"},
		{http.MethodPost, "/identity/keys", "GET"},
		{http.MethodPut, "/governance/v1/policies", "GET, POST"},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "apikey root-key")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var body runtimeapi.ErrorBody
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "%s %s", tc.method, tc.path)
		assert.Equal(t, tc.allow, resp.Header.Get("Allow"), "%s %s", tc.method, tc.path)
		require.NotEmpty(t, body.Errors)
		assert.Equal(t, "method_not_allowed", body.Errors[0].Code)
	}
}
