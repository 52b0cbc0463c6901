package caddymodule

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/qiskitclient"
	"github.com/qgov/qgov/simulator"
	"github.com/qgov/qgov/simulator/appid"
)

// BenchmarkPolling measures job-status polling (GET /jobs/{id}, what a
// Qiskit client repeats while it waits) through qgov with a valid token
// against plain reverse_proxy to the same upstream, in one run, from one
// and from eight concurrent clients. It reports requests per second and
// p50/p99 latency, under the audit trail's fsync policies always and
// interval; run it with `make bench`.
func BenchmarkPolling(b *testing.B) {
	b.Setenv("QGOV_DEMO_UPSTREAM_KEY", simulator.DemoAPIKey)
	b.Setenv("QGOV_DEMO_OIDC_SECRET", appid.DemoClientSecret)
	b.Setenv("XDG_DATA_HOME", b.TempDir())
	gwPort, simPort, plainPort := testenv.FreePort(b), testenv.FreePort(b), testenv.FreePort(b)
	cfg := demoConfig(b, gwPort, simPort, "") + fmt.Sprintf(`
:%d {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:%d
}
`, plainPort, simPort)
	cfg = strings.Replace(cfg, "admin localhost:2999", "admin off", 1)
	b.Cleanup(func() { _ = caddy.Stop() })
	// the audit trail's durability is the largest part of qgov's cost:
	// measure the strict default and the interval policy
	for _, fsync := range []string{"always", "interval"} {
		// a trail keeps its settings across reloads: give each its own
		policy := fmt.Sprintf("\t\t\tdir %s\n\t\t\tfsync %s\n", filepath.Join(b.TempDir(), fsync), fsync)
		cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(strings.Replace(cfg, "\t\t\tfsync always\n", policy, 1)), nil)
		require.NoError(b, err)
		require.NoError(b, caddy.Load(cfgJSON, true))

		ctx := context.Background()
		gateway := &qiskitclient.Client{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", gwPort), APIKey: "demo-fatima-key", CRN: crn("QR-ml")}
		job, err := gateway.Submit(ctx, bellJob())
		require.NoError(b, err)
		_, err = gateway.Wait(ctx, job.ID, 10*time.Millisecond)
		require.NoError(b, err)
		gwToken, err := gateway.Token(ctx)
		require.NoError(b, err)
		upstream := &qiskitclient.Client{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", simPort), APIKey: simulator.DemoAPIKey, CRN: crn("QR-ml")}
		upToken, err := upstream.Token(ctx)
		require.NoError(b, err)

		// One client measures the latency a request pays; eight saturate
		// both cores and measure throughput.
		for _, clients := range []int{1, 8} {
			for _, target := range []struct {
				name, base, token, crn string
			}{
				{"reverse_proxy", fmt.Sprintf("http://127.0.0.1:%d", plainPort), upToken, crn("QR-ml")},
				{"qgov", fmt.Sprintf("http://127.0.0.1:%d", gwPort), gwToken, "QR-ml"},
			} {
				b.Run(fmt.Sprintf("fsync=%s/clients=%d/%s", fsync, clients, target.name), func(b *testing.B) {
					url := target.base + "/api/v1/jobs/" + job.ID + "?exclude_params=true"
					load(b, clients, func() *http.Request { return apiRequest(http.MethodGet, url, "", target.token, target.crn) })
				})
			}
		}
	}
}

// BenchmarkSubmit measures governed job submission (POST /jobs: the
// submission decoded, its limits admitted and counted in one step, the
// job forwarded and its owner and reservation recorded) against plain
// reverse_proxy, with the demo's quotas (its job counts raised so the
// run is not refused) and the audit trail's interval policy.
func BenchmarkSubmit(b *testing.B) {
	b.Setenv("QGOV_DEMO_UPSTREAM_KEY", simulator.DemoAPIKey)
	b.Setenv("QGOV_DEMO_OIDC_SECRET", appid.DemoClientSecret)
	b.Setenv("XDG_DATA_HOME", b.TempDir())
	gwPort, simPort, plainPort := testenv.FreePort(b), testenv.FreePort(b), testenv.FreePort(b)
	cfg := demoConfig(b, gwPort, simPort, "") + fmt.Sprintf("\n:%d {\n\tbind 127.0.0.1\n\treverse_proxy 127.0.0.1:%d\n}\n", plainPort, simPort)
	cfg = strings.NewReplacer("admin localhost:2999", "admin off", "\t\t\tfsync always\n", "\t\t\tfsync interval\n",
		"max_concurrent_jobs 10\n", "max_concurrent_jobs 1000000\n", "max_jobs_per_hour 100\n", "max_jobs_per_hour 1000000\n",
		"max_jobs_per_day 500\n", "max_jobs_per_day 1000000\n").Replace(cfg)
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
	require.NoError(b, err)
	require.NoError(b, caddy.Load(cfgJSON, true))
	b.Cleanup(func() { _ = caddy.Stop() })

	ctx := context.Background()
	gwToken, err := (&qiskitclient.Client{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", gwPort), APIKey: "demo-fatima-key", CRN: crn("QR-ml")}).Token(ctx)
	require.NoError(b, err)
	upToken, err := (&qiskitclient.Client{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", simPort), APIKey: simulator.DemoAPIKey, CRN: crn("QR-ml")}).Token(ctx)
	require.NoError(b, err)
	body := fmt.Sprintf(`{"program_id":"sampler","backend":"qgov_simulator","params":{"pubs":[[%q,null,1]],"version":2}}`,
		`OPENQASM 3.0; include "stdgates.inc"; bit[1] c; x $0; c[0] = measure $0;`)
	for _, clients := range []int{1, 8} {
		for _, target := range []struct {
			name, base, token, crn string
		}{
			{"reverse_proxy", fmt.Sprintf("http://127.0.0.1:%d", plainPort), upToken, crn("QR-ml")},
			{"qgov", fmt.Sprintf("http://127.0.0.1:%d", gwPort), gwToken, "QR-ml"},
		} {
			b.Run(fmt.Sprintf("clients=%d/%s", clients, target.name), func(b *testing.B) {
				load(b, clients, func() *http.Request {
					return apiRequest(http.MethodPost, target.base+"/api/v1/jobs", body, target.token, target.crn)
				})
			})
		}
	}
}

// apiRequest is a Runtime API request with a bearer token and CRN.
func apiRequest(method, url, body, token, crn string) *http.Request {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Service-CRN", crn)
	return req
}

// load issues b.N requests from concurrent clients and reports
// throughput and latency percentiles.
func load(b *testing.B, clients int, newRequest func() *http.Request) {
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()
	latencies := make([][]time.Duration, clients)
	var next sync.Mutex
	remaining := b.N
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for {
				next.Lock()
				if remaining == 0 {
					next.Unlock()
					return
				}
				remaining--
				next.Unlock()
				req := newRequest()
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				latencies[c] = append(latencies[c], time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(latencies...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
