package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/qiskitclient"
	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/simulator"
	"github.com/qgov/qgov/simulator/appid"
)

// BenchmarkHotPath measures what users feel: qgov with the demo's
// defaults (Caddyfile.example as shipped: the embedded store, audit fsync
// decisions, the demo's quotas with its job counts raised so that the run
// is not refused) against plain reverse_proxy to the same simulator, in
// one run. Polling (GET /jobs/{id}, what a waiting Qiskit client
// repeats) from 32 connections and submission (POST /jobs) from 8 give
// throughput and its ratio; one connection gives the latency qgov adds
// (p50, p99); the process's allocations per request, qgov's less plain
// reverse_proxy's, are what qgov adds per polled request. Run it with
// `make bench`; it prints a table.
func BenchmarkHotPath(b *testing.B) {
	b.Setenv("QGOV_DEMO_UPSTREAM_KEY", simulator.DemoAPIKey)
	b.Setenv("QGOV_DEMO_OIDC_SECRET", appid.DemoClientSecret)
	b.Setenv("XDG_DATA_HOME", b.TempDir())
	gwPort, simPort, plainPort := testenv.FreePort(b), testenv.FreePort(b), testenv.FreePort(b)
	cfg := demoConfig(b, gwPort, simPort, "") + fmt.Sprintf("\n:%d {\n\tbind 127.0.0.1\n\treverse_proxy 127.0.0.1:%d\n}\n", plainPort, simPort)
	cfg = strings.NewReplacer("admin localhost:2999", "admin off", "max_qubits 26\n", "max_qubits 26\n\t\tqueue_size 1000000\n",
		"max_concurrent_jobs 10\n", "max_concurrent_jobs 1000000\n", "max_jobs_per_hour 100\n", "max_jobs_per_hour 1000000\n",
		"max_jobs_per_day 500\n", "max_jobs_per_day 1000000\n").Replace(cfg)
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
	require.NoError(b, err)
	require.NoError(b, caddy.Load(cfgJSON, true))
	b.Cleanup(func() { _ = caddy.Stop() })

	ctx := context.Background()
	gwClient := &qiskitclient.Client{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", gwPort), APIKey: "demo-fatima-key", CRN: crn("QR-ml")}
	job, err := gwClient.Submit(ctx, bellJob())
	require.NoError(b, err)
	_, err = gwClient.Wait(ctx, job.ID, 10*time.Millisecond)
	require.NoError(b, err)
	gwToken, err := gwClient.Token(ctx)
	require.NoError(b, err)
	upstream := &qiskitclient.Client{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", simPort), APIKey: simulator.DemoAPIKey, CRN: crn("QR-ml")}
	upToken, err := upstream.Token(ctx)
	require.NoError(b, err)
	// drain waits until the simulator has run every job submitted so far
	// (it runs them in order): the jobs one run leaves queued must not
	// take the cores from the next
	drain := func() {
		sentinel, err := upstream.Submit(ctx, bellJob())
		require.NoError(b, err)
		_, err = upstream.Wait(ctx, sentinel.ID, 10*time.Millisecond)
		require.NoError(b, err)
	}
	targets := [2]benchTarget{
		{"reverse_proxy", fmt.Sprintf("http://127.0.0.1:%d", plainPort), upToken, crn("QR-ml")},
		{"qgov", fmt.Sprintf("http://127.0.0.1:%d", gwPort), gwToken, "QR-ml"},
	}
	submission := fmt.Sprintf(`{"program_id":"sampler","backend":"qgov_simulator","params":{"pubs":[[%q,null,1]],"version":2}}`,
		`OPENQASM 3.0; include "stdgates.inc"; bit[1] c; x $0; c[0] = measure $0;`)
	paths := []benchPath{
		{name: "polling GET /jobs/{id}", conns: 32, target: 0.95, request: func(t benchTarget) *http.Request {
			return apiRequest(http.MethodGet, t.base+"/api/v1/jobs/"+job.ID+"?exclude_params=true", "", t.token, t.crn)
		}},
		{name: "submission POST /jobs", conns: 8, target: 0.80, request: func(t benchTarget) *http.Request {
			return apiRequest(http.MethodPost, t.base+"/api/v1/jobs", submission, t.token, t.crn)
		}},
	}
	const rounds, each = 2, 3 * time.Second
	for range b.N {
		for i := range paths {
			p := &paths[i]
			// rounds alternate the targets, so that drift (the simulator's
			// growing job table, the disk) falls on both alike
			for range rounds {
				for t, target := range targets {
					p.load[t].add(drive(b, target, p.request, p.conns, each, 0))
					drain()
					p.latency[t].add(drive(b, target, p.request, 1, 0, 1000))
					drain()
				}
			}
		}
	}
	report(b, paths)
}

// benchTarget is a server to measure: its base URL and the credentials
// a Qiskit client sends it.
type benchTarget struct{ name, base, token, crn string }

// benchPath is one kind of request measured against both targets.
type benchPath struct {
	name    string
	conns   int
	target  float64 // the throughput ratio aimed at
	request func(benchTarget) *http.Request
	// load and latency are what each target gave, under load and from
	// one connection
	load, latency [2]measure
}

// measure accumulates requests, their latencies, the time they took and
// the process's allocations meanwhile.
type measure struct {
	requests  int
	elapsed   time.Duration
	latencies []time.Duration
	mallocs   uint64
	failures  int
}

func (m *measure) add(o measure) {
	m.requests += o.requests
	m.elapsed += o.elapsed
	m.latencies = append(m.latencies, o.latencies...)
	m.mallocs += o.mallocs
	m.failures += o.failures
}

func (m *measure) rate() float64 { return float64(m.requests) / m.elapsed.Seconds() }

func (m *measure) percentile(p float64) time.Duration {
	slices.Sort(m.latencies)
	if len(m.latencies) == 0 {
		return 0
	}
	return m.latencies[int(p*float64(len(m.latencies)-1))]
}

func (m *measure) allocs() float64 { return float64(m.mallocs) / float64(max(m.requests, 1)) }

// drive sends requests from conns connections for a duration, or, when
// count is positive, count requests in all.
func drive(b *testing.B, t benchTarget, request func(benchTarget) *http.Request, conns int, duration time.Duration, count int) measure {
	transport := &http.Transport{MaxIdleConnsPerHost: conns}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	latencies := make([][]time.Duration, conns)
	var sent, failures atomic.Int64
	deadline := time.Now().Add(duration)
	more := func() bool {
		if count > 0 {
			return sent.Add(1) <= int64(count)
		}
		return time.Now().Before(deadline)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			for more() {
				t0 := time.Now()
				resp, err := client.Do(request(t))
				if err != nil {
					failures.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures.Add(1)
					continue
				}
				latencies[c] = append(latencies[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	m := measure{elapsed: time.Since(start), latencies: slices.Concat(latencies...), failures: int(failures.Load())}
	runtime.ReadMemStats(&after)
	m.requests, m.mallocs = len(m.latencies), after.Mallocs-before.Mallocs
	if m.failures > 0 {
		b.Errorf("%s: %d of %d requests failed", t.name, m.failures, m.requests+m.failures)
	}
	return m
}

// report prints the table and reports each ratio as a metric.
func report(b *testing.B, paths []benchPath) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "path\tconns\treverse_proxy req/s\tqgov req/s\tratio\ttarget\t1 conn: p50 added\tp99 added\tallocs/req added\t")
	for _, p := range paths {
		plain, gw := &p.load[0], &p.load[1]
		ratio := gw.rate() / plain.rate()
		added := func(q float64) string {
			d := p.latency[1].percentile(q) - p.latency[0].percentile(q)
			return fmt.Sprintf("%+.0f µs", float64(d.Microseconds()))
		}
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%.0f\t%.2f\t≥ %.2f\t%s\t%s\t%.0f\t\n", p.name, p.conns, plain.rate(), gw.rate(), ratio, p.target,
			added(0.5), added(0.99), gw.allocs()-plain.allocs())
		metric := strings.Fields(p.name)[0]
		b.ReportMetric(ratio, metric+"-ratio")
		b.ReportMetric(float64((p.latency[1].percentile(0.5) - p.latency[0].percentile(0.5)).Microseconds()), metric+"-added-p50-µs")
	}
	_ = w.Flush()
}

// apiRequest is a Runtime API request with a bearer token and CRN.
func apiRequest(method, url, body, token, crn string) *http.Request {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Service-CRN", crn)
	return req
}
