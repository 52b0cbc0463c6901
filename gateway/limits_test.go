package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/circuit"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/jobs"
	"github.com/qgov/qgov/notify"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/store"
)

// isaJob is a sampler job the simulated Heron (ibm_qgov_kestrel) runs as
// is: 1000 shots of x and measure, 3 quantum-seconds there.
var isaJob = fmt.Sprintf(`{"program_id":"sampler","backend":"ibm_qgov_kestrel","params":{"pubs":[[%q,null,1000]],"version":2}}`,
	`OPENQASM 3.0; include "stdgates.inc"; bit[1] c; x $0; c[0] = measure $0;`)

func post(t *testing.T, srv *httptest.Server, body string) (*http.Response, []byte) {
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/jobs", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "apikey fatima-key")
	req.Header.Set("Service-CRN", "QR-ml")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// TestLimitsAcrossTwoGateways runs two gateways sharing one Redis in
// front of the real simulator: concurrent submissions through both are
// admitted exactly up to max_concurrent_jobs; the reconciler settles the
// jobs once they end, with the usage the upstream reports; a job the
// upstream refuses gives its counts back.
func TestLimitsAcrossTwoGateways(t *testing.T) {
	addr := testenv.Redis(t)
	rg := newRig(t)
	qc := quota.Config{
		Limits:  []quota.Rule{{Scope: quota.ScopeUser, Name: "fatima", Limits: quota.Limits{MaxConcurrentJobs: new(int)}}},
		Budgets: []quota.Budget{{Scope: quota.ScopeTenant, Name: "default", MonthlyLimitUSD: 100}},
		Prices:  map[string]float64{"ibm_qgov_kestrel": 1},
	}
	*qc.Limits[0].MaxConcurrentJobs = 3
	var gws [2]*Gateway
	var srvs [2]*httptest.Server
	for i := range gws {
		st := store.NewRedis(redis.NewClient(&redis.Options{Addr: addr}), "qgov:", 0)
		t.Cleanup(func() { _ = st.Close() })
		g, err := quota.New(qc, st, quota.Options{})
		require.NoError(t, err)
		srvs[i], gws[i] = rg.serve(t, st, func(c *Config) { c.Quota = g })
	}

	var mu sync.Mutex
	var ids []string
	refused := 0
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := post(t, srvs[i%2], isaJob)
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case http.StatusOK:
				var created runtimeapi.JobCreated
				assert.NoError(t, json.Unmarshal(body, &created))
				ids = append(ids, created.ID)
			case http.StatusTooManyRequests:
				refused++
				var e runtimeapi.ErrorBody
				assert.NoError(t, json.Unmarshal(body, &e))
				assert.Equal(t, "quota_exceeded", e.Errors[0].Code)
				assert.Contains(t, e.Errors[0].Message, `user "fatima" has 3 jobs running or queued, and max_concurrent_jobs is 3 (rule: max_concurrent_jobs of user "fatima")`)
				assert.NotEmpty(t, resp.Header.Get("Retry-After"))
				assert.Equal(t, "0", resp.Header.Get("RateLimit-Remaining"))
			default:
				t.Errorf("unexpected %d: %s", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	require.Len(t, ids, 3, "exactly max_concurrent_jobs admitted across both gateways")
	assert.Equal(t, 9, refused)

	// A job the upstream refuses (an unknown backend) gives its place back.
	resp, body := post(t, srvs[0], strings.Replace(isaJob, "ibm_qgov_kestrel", "ibm_nowhere", 1))
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "still three running: %s", body)

	// The jobs end upstream, unwatched; one reconciler pass settles each once.
	in := rg.dir.Instance("QR-ml")
	for _, id := range ids {
		require.Eventually(t, func() bool {
			var j runtimeapi.Job
			status, err := gws[0].upstreamJSON(context.Background(), in, http.MethodGet, "/jobs/"+id, &j)
			return err == nil && status == http.StatusOK && runtimeapi.Final(j.Status)
		}, 20*time.Second, 50*time.Millisecond)
	}
	n, err := gws[0].Reconcile(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	n, err = gws[1].Reconcile(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n, "settled once")

	status, body := call(t, srvs[1], "fatima-key", "GET", "/api/v1/instances/usage", "")
	require.Equal(t, http.StatusOK, status, string(body))
	var usage struct {
		InstanceID string `json:"instance_id"`
		Qgov       struct {
			Budgets []quota.BudgetView `json:"budgets"`
			Limits  []quota.LimitView  `json:"limits"`
		} `json:"qgov"`
	}
	require.NoError(t, json.Unmarshal(body, &usage))
	assert.NotEmpty(t, usage.InstanceID, "the upstream's document, extended")
	require.Len(t, usage.Qgov.Budgets, 1)
	assert.InDelta(t, 9, usage.Qgov.Budgets[0].SpentUSD, 1e-6, "three jobs of 3 quantum-seconds at USD 1, as the upstream's metrics say")
	assert.Zero(t, usage.Qgov.Budgets[0].ReservedUSD)
	require.Len(t, usage.Qgov.Limits, 1)
	assert.Equal(t, "max_concurrent_jobs", usage.Qgov.Limits[0].Limit)
	assert.Zero(t, usage.Qgov.Limits[0].Used)

	resp, body = post(t, srvs[0], strings.Replace(isaJob, "ibm_qgov_kestrel", "ibm_nowhere", 1))
	require.NotEqual(t, http.StatusOK, resp.StatusCode, string(body))
	ids = nil
	for i := 0; i < 3; i++ {
		resp, body := post(t, srvs[i%2], isaJob)
		require.Equal(t, http.StatusOK, resp.StatusCode, "the refused job took no place: %s", body)
		assert.Equal(t, fmt.Sprint(2-i), resp.Header.Get("RateLimit-Remaining"))
		var created runtimeapi.JobCreated
		require.NoError(t, json.Unmarshal(body, &created))
		ids = append(ids, created.ID)
	}

	// A client polling its job through the gateway frees its place when
	// it sees the job end, before any reconciler pass.
	require.Eventually(t, func() bool {
		status, body := call(t, srvs[1], "fatima-key", "GET", "/api/v1/jobs/"+ids[0], "")
		var j runtimeapi.Job
		return status == http.StatusOK && json.Unmarshal(body, &j) == nil && runtimeapi.Final(j.Status)
	}, 20*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		resp, _ := post(t, srvs[0], isaJob)
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 50*time.Millisecond)
}

// TestReconcilerLease lets one replica of two reconcile.
func TestReconcilerLease(t *testing.T) {
	st := store.NewRedis(redis.NewClient(&redis.Options{Addr: testenv.Redis(t)}), "qgov:", 0)
	defer st.Close()
	ctx := context.Background()
	a, err := store.Lease(ctx, st, leaseName, "a", time.Second)
	require.NoError(t, err)
	b, err := store.Lease(ctx, st, leaseName, "b", time.Second)
	require.NoError(t, err)
	assert.True(t, a)
	assert.False(t, b)
	a, err = store.Lease(ctx, st, leaseName, "a", 200*time.Millisecond)
	require.NoError(t, err)
	assert.True(t, a, "the holder renews")
	require.Eventually(t, func() bool {
		b, err := store.Lease(ctx, st, leaseName, "b", time.Second)
		return err == nil && b
	}, 3*time.Second, 50*time.Millisecond, "a lease not renewed passes to another replica")
}

// TestBudgetAlertIsAuditedAndNotified: an alert becomes an audit record
// of its tenant and a message on the tenant's webhook.
func TestBudgetAlertIsAuditedAndNotified(t *testing.T) {
	got := make(chan notify.Message, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var m notify.Message
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&m))
		got <- m
	}))
	defer hook.Close()
	n := startNotifier(t, hook.URL)
	dir, err := org.NewDirectory(org.Config{Tenants: []org.TenantSettings{{Name: "lab", NotifyOnBudgetWarning: true, NotificationChannels: []string{"slack"}}}})
	require.NoError(t, err)
	trailDir := t.TempDir()
	file, err := audit.OpenFile(audit.FileConfig{Dir: trailDir, Fsync: audit.FsyncAlways})
	require.NoError(t, err)
	trail := audit.New(file, nil, audit.Options{})
	defer trail.Close()

	gw := New(Config{Directory: org.NewCurrent(dir), Notify: n, Audit: trail})
	gw.BudgetAlert(quota.Alert{Tenant: "lab", Scope: quota.ScopeProject, Name: "ml", Period: "2026-11", Percent: 80, UsedUSD: 812.5, LimitUSD: 1000})

	select {
	case m := <-got:
		assert.Equal(t, audit.ActionBudgetAlert, m.Event)
		assert.Equal(t, "The budget of project ml reached 80% of its monthly limit of USD 1000.00 for 2026-11 (USD 812.50 spent or reserved).", m.Text)
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook message")
	}
	page, err := audit.FileSource{Dir: trailDir}.Query(context.Background(), audit.Filter{Tenant: "lab", Actions: []string{audit.ActionBudgetAlert}}, "", 10)
	require.NoError(t, err)
	require.Len(t, page.Logs, 1)
	assert.Equal(t, "ml", page.Logs[0].Project)
	assert.Equal(t, audit.Resource{Type: "budget", ID: "project/ml"}, page.Logs[0].Resource)
}

// slowUpstream creates each job at once and answers it only after a
// while, or not at all when the request's context ends first: a client
// that hangs up meanwhile cancels what the gateway does with its context.
type slowUpstream struct{ created *atomic.Int64 }

func (s slowUpstream) Forward(w http.ResponseWriter, r *http.Request, in *org.Instance) error {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/jobs") {
		return stdProxy{}.Forward(w, r, in)
	}
	answer := httptest.NewRecorder()
	if err := (stdProxy{}).Forward(answer, r.WithContext(context.Background()), in); err != nil {
		return err
	}
	s.created.Add(1)
	select {
	case <-time.After(300 * time.Millisecond):
	case <-r.Context().Done():
		return r.Context().Err()
	}
	maps.Copy(w.Header(), answer.Header())
	w.WriteHeader(answer.Code)
	_, _ = w.Write(answer.Body.Bytes())
	return nil
}

// TestHangingUpKeepsTheCharge has clients hang up while their jobs are
// being submitted: each job created upstream keeps its place and its
// owner, so with max_concurrent_jobs 1 the next submission is refused.
func TestHangingUpKeepsTheCharge(t *testing.T) {
	rg := newRig(t)
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "q.db"))
	require.NoError(t, err)
	one := 1
	g, err := quota.New(quota.Config{Limits: []quota.Rule{{Scope: quota.ScopeUser, Name: "fatima", Limits: quota.Limits{MaxConcurrentJobs: &one}}}}, st, quota.Options{})
	require.NoError(t, err)
	var created atomic.Int64
	srv, gw := rg.serve(t, st, func(c *Config) { c.Quota = g; c.Upstream = slowUpstream{&created} })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/v1/jobs", strings.NewReader(isaJob))
	req.Header.Set("Authorization", "apikey fatima-key")
	req.Header.Set("Service-CRN", "QR-ml")
	_, err = http.DefaultClient.Do(req)
	cancel()
	require.Error(t, err, "the client hung up")
	require.Eventually(t, func() bool {
		list, err := gw.Jobs.Matching(context.Background(), "QR-ml", func(jobs.Record) bool { return true })
		return err == nil && len(list) == 1
	}, 2*time.Second, 20*time.Millisecond, "the job it left is recorded as its owner's")
	assert.Equal(t, int64(1), created.Load())
	resp, body := post(t, srv, isaJob)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "its place is still taken: %s", body)
}

// TestUnfinishedSubmissionIsFollowedUp leaves reservations as a replica
// that stopped mid-submission leaves them (admitted, no job id): one
// whose forward never reached the upstream, and one whose job the
// upstream created with its tracking tag. While their replica beats they
// are left to it; once it is silent the reconciler releases the first,
// charging nothing, and records the second's job for its owner, who can
// then read it, and settles it when it ends.
func TestUnfinishedSubmissionIsFollowedUp(t *testing.T) {
	rg := newRig(t)
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "q.db"))
	require.NoError(t, err)
	g, err := quota.New(quota.Config{Budgets: []quota.Budget{{Scope: quota.ScopeTenant, Name: "default", MonthlyLimitUSD: 100}},
		Prices: map[string]float64{"ibm_qgov_kestrel": 1}}, st, quota.Options{})
	require.NoError(t, err)
	nodes := store.Nodes{Store: st, TTL: 300 * time.Millisecond}
	srv, gw := rg.serve(t, st, func(c *Config) { c.Quota, c.Node, c.Nodes = g, "survivor", nodes })
	ctx := context.Background()
	sub, derr := runtimeapi.DecodeSubmission([]byte(isaJob), circuit.DefaultLimits)
	require.Nil(t, derr)
	caller := quota.Caller{Tenant: "default", Project: "ml", User: "fatima"}
	require.NoError(t, nodes.Beat(ctx, "stopped"))
	admit := func() *quota.Admission {
		a, aerr := g.Admit(ctx, quota.Job{Caller: caller, Instance: "QR-ml", Backend: sub.Backend, Sub: sub, Node: "stopped"})
		require.Nil(t, aerr)
		require.Positive(t, a.EstimateMicros)
		return a
	}
	admit() // its forward never reached the upstream
	created := admit()
	// the stopped replica's forward of the second reached the upstream
	in := gw.Directory.Load().Instance("QR-ml")
	body, terr := runtimeapi.WithTag([]byte(isaJob), runtimeapi.TrackTag(created.ID))
	require.NoError(t, terr)
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	r.Header.Set("Content-Type", "application/json")
	c, ferr := gw.forwardCaptured(&request{r: r, rest: "/jobs", in: in}, nil, body)
	require.Nil(t, ferr)
	require.Equal(t, http.StatusOK, c.status, c.body.String())
	var job struct{ ID string }
	require.NoError(t, json.Unmarshal(c.body.Bytes(), &job))

	n, err := gw.Reconcile(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "their replica still beats: the reservations are its own")
	open, err := g.Open(ctx, "default")
	require.NoError(t, err)
	assert.Len(t, open, 2)

	time.Sleep(400 * time.Millisecond) // its beat expires
	_, err = gw.Reconcile(ctx)
	require.NoError(t, err)
	open, err = g.Open(ctx, "default")
	require.NoError(t, err)
	require.Len(t, open, 1, "the lost submission's reservation is released")
	assert.Equal(t, created.ID, open[0].ID)
	assert.Equal(t, job.ID, open[0].JobID, "bound to the job found by its tag")
	u, err := g.Usage(ctx, caller)
	require.NoError(t, err)
	assert.InDelta(t, float64(created.EstimateMicros)/1e6, u.Budgets[0].ReservedUSD, 1e-6, "the lost one holds nothing")
	status, doc := call(t, srv, "fatima-key", http.MethodGet, "/api/v1/jobs/"+job.ID, "")
	assert.Equal(t, http.StatusOK, status, "its owner reads the job: %s", doc)
	status, _ = call(t, srv, "ravi-key", http.MethodGet, "/api/v1/jobs/"+job.ID, "")
	assert.Equal(t, http.StatusNotFound, status, "and nobody else")

	// settled when it ends: by a pass of the reconciler, or at once by the
	// owner's read above if the job had ended by then
	require.Eventually(t, func() bool {
		_, err := gw.Reconcile(ctx)
		open, oerr := g.Open(ctx, "default")
		return err == nil && oerr == nil && len(open) == 0
	}, 20*time.Second, 100*time.Millisecond, "the found job is settled when it ends")
	u, err = g.Usage(ctx, caller)
	require.NoError(t, err)
	assert.InDelta(t, 3, u.Budgets[0].SpentUSD, 0.01, "charged the 3 quantum-seconds it ran")
	assert.Zero(t, u.Budgets[0].ReservedUSD)
}

// TestBodiesHeldAtOnce fills the room for request bodies with one body
// still arriving: the next request waits, then gets 503 gateway_busy with
// Retry-After, nothing read or forwarded; once the first ends there is
// room again.
func TestBodiesHeldAtOnce(t *testing.T) {
	rg := newRig(t)
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "q.db"))
	require.NoError(t, err)
	srv, _ := rg.serve(t, st, func(c *Config) { c.MaxBodyBytes, c.BodyMemory = 1<<20, 1<<20+ReadingRoom })
	pr, pw := io.Pipe()
	first := make(chan int)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/jobs", pr)
		req.Header.Set("Authorization", "apikey fatima-key")
		req.Header.Set("Service-CRN", "QR-ml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	_, _ = pw.Write([]byte(`{"program_id":`)) // the first body, unknown length, still arriving
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	resp, body := post(t, srv, isaJob)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s", body)
	assert.Contains(t, string(body), "gateway_busy")
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	assert.GreaterOrEqual(t, time.Since(start), bodyWait, "it waited for room first")
	_, _ = pw.Write([]byte(`"sampler"}`))
	pw.Close()
	assert.Equal(t, http.StatusBadRequest, <-first, "the first body is read once it arrives")
	resp, body = post(t, srv, isaJob)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "room again: %s", body)
}

// TestSubmissionIsTwoStoreSteps counts the bbolt commits of one governed
// submission under limits and a budget: one before it is forwarded (the
// admission with its reservation) and one after (the owner's record with
// the reservation's binding), and the job is then its owner's to read
// and settled when it ends.
func TestSubmissionIsTwoStoreSteps(t *testing.T) {
	rg := newRig(t)
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "q.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	g, err := quota.New(quota.Config{
		Limits:  []quota.Rule{{Scope: quota.ScopeTenant, Name: "default", Limits: quota.Limits{MaxConcurrentJobs: new(10), MaxJobsPerHour: new(100)}}},
		Budgets: []quota.Budget{{Scope: quota.ScopeTenant, Name: "default", MonthlyLimitUSD: 100}},
		Prices:  map[string]float64{"ibm_qgov_kestrel": 1}}, st, quota.Options{})
	require.NoError(t, err)
	srv, gw := rg.serve(t, st, func(c *Config) { c.Quota = g })
	var jobs []string
	for i := range 3 {
		before := st.Commits()
		status, body := call(t, srv, "fatima-key", http.MethodPost, "/api/v1/jobs", isaJob)
		require.Equal(t, http.StatusOK, status, string(body))
		assert.Equal(t, uint64(2), st.Commits()-before, "submission %d: one store step before forwarding, one after", i)
		var job runtimeapi.JobCreated
		require.NoError(t, json.Unmarshal(body, &job))
		jobs = append(jobs, job.ID)
	}
	for _, id := range jobs {
		status, body := call(t, srv, "fatima-key", http.MethodGet, "/api/v1/jobs/"+id, "")
		assert.Equal(t, http.StatusOK, status, string(body))
	}
	open, err := g.Open(context.Background(), "default")
	require.NoError(t, err)
	for _, r := range open {
		assert.NotEmpty(t, r.JobID, "every reservation is bound to its job")
	}
	require.Eventually(t, func() bool {
		_, err := gw.Reconcile(context.Background())
		open, oerr := g.Open(context.Background(), "default")
		return err == nil && oerr == nil && len(open) == 0
	}, 20*time.Second, 100*time.Millisecond, "each is settled when it ends")
}
