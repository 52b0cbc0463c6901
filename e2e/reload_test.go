package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/qiskitclient"
	"github.com/qgov/qgov/simulator"
)

// TestReloadsUnderLoad reloads the demo's configuration five times while
// clients read and submit jobs, on kept connections and on a new
// connection per request. No request gets an HTTP error. The only
// failures are connection errors at the instant of a reload (Caddy's old
// server closing idle kept connections as a client writes on one), below
// 0.5% of requests; and every job the upstream received was answered to
// its client or is known to qgov, its owner's to read. The upstream is a
// simulator outside the Caddy being reloaded, as IBM Cloud is.
func TestReloadsUnderLoad(t *testing.T) {
	sim, err := simulator.New(simulator.Default())
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	upstreamSrv := httptest.NewServer(sim)
	t.Cleanup(upstreamSrv.Close)
	d := startDemoEdited(t, func(cfg string) string {
		bundled := regexp.MustCompile(`http://127\.0\.0\.1:\d+/api/v1`).FindString(cfg)
		return strings.NewReplacer("store bolt", "store bolt "+filepath.Join(t.TempDir(), "qgov.db"), // its hundreds of jobs stay its own
			"max_concurrent_jobs 10", "max_concurrent_jobs 100000",
			"max_jobs_per_hour 100", "max_jobs_per_hour 100000", "max_jobs_per_day 500", "max_jobs_per_day 100000",
			strings.TrimSuffix(bundled, "/api/v1"), upstreamSrv.URL).Replace(cfg)
	})
	d.sim = upstreamSrv.URL
	ctx := t.Context()
	configs := []string{d.config, replaceOnce(t, d.config, "\tqgov\n", "\trespond /health \"ok\"\n\tqgov\n")}
	seed, err := d.client("demo-fatima-key", "QR-ml").Submit(ctx, bellJob())
	require.NoError(t, err)

	var (
		mu         sync.Mutex
		connErrors []time.Time
		answered   = map[string]bool{seed.ID: true}
		problems   []string
		reloads    []time.Time
		kinds      []string
	)
	// workers 0 and 1 keep their connections, 2 and 3 open one per
	// request; the odd ones submit, the even ones read
	kept, fresh := keepAlive(), &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	clients := [4]*qiskitclient.Client{}
	for w := range clients {
		clients[w] = d.client("demo-fatima-key", "QR-ml")
		clients[w].HTTP = map[bool]*http.Client{true: kept, false: fresh}[w < 2]
	}
	requests, httpErrors, _ := underTraffic(func(w int) error {
		c := clients[w]
		var err error
		if w%2 == 1 {
			var created runtimeapi.JobCreated
			if created, err = c.Submit(ctx, bellJob()); err == nil {
				mu.Lock()
				answered[created.ID] = true
				mu.Unlock()
			}
		} else {
			_, err = c.Job(ctx, seed.ID)
		}
		var apiErr *qiskitclient.Error
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
		case errors.As(err, &apiErr):
			problems = append(problems, fmt.Sprintf("worker %d: %v", w, apiErr))
			return err
		default:
			connErrors = append(connErrors, time.Now())
			if len(kinds) < 10 {
				kinds = append(kinds, fmt.Sprintf("worker %d: %v", w, err))
			}
		}
		return nil
	}, func() {
		for i := 1; i <= 5; i++ {
			time.Sleep(time.Second)
			start := time.Now()
			d.tester.InitServer(configs[i%2], "caddyfile")
			reloads = append(reloads, start, time.Now())
		}
	})

	t.Logf("%d requests across 5 reloads: %d HTTP errors, %d connection errors (%.3f%%): %v", requests, httpErrors, len(connErrors),
		100*float64(len(connErrors))/float64(requests), kinds)
	assert.Zero(t, httpErrors, "no HTTP error: %v", problems)
	assert.Less(t, float64(len(connErrors)), 0.005*float64(requests), "connection errors below 0.5%% of requests: %v", kinds)
	for _, at := range connErrors {
		near := false
		for i := 0; i < len(reloads); i += 2 {
			near = near || !at.Before(reloads[i]) && !at.After(reloads[i+1].Add(100*time.Millisecond))
		}
		assert.True(t, near, "a connection error at %v, away from every reload", at)
	}

	upstream := &qiskitclient.Client{BaseURL: d.sim, APIKey: simulator.DemoAPIKey, CRN: crn("QR-ml")}
	var jobs []runtimeapi.Job
	for offset := 0; ; offset += 1000 {
		var page runtimeapi.JobList
		require.NoError(t, upstream.JSON(ctx, http.MethodGet, fmt.Sprintf("/jobs?limit=1000&offset=%d", offset), nil, &page))
		jobs = append(jobs, page.Jobs...)
		if len(page.Jobs) < 1000 {
			break
		}
	}
	fatima := d.client("demo-fatima-key", "QR-ml")
	unanswered := 0
	for _, j := range jobs {
		if answered[j.ID] {
			continue
		}
		unanswered++
		_, err := fatima.Job(context.Background(), j.ID)
		assert.NoError(t, err, "upstream job %s, never answered to its client, is known to qgov", j.ID)
	}
	t.Logf("%d jobs upstream, %d of them never answered to their client", len(jobs), unanswered)
}

// TestReloadRefusesWhatCannotChangeLive asks a running gateway to change
// its audit trail's fsync policy: the load fails saying why, and the
// configuration in force keeps serving.
func TestReloadRefusesWhatCannotChangeLive(t *testing.T) {
	d := startDemo(t)
	fatima := d.client("demo-fatima-key", "QR-ml")
	job, err := fatima.Submit(t.Context(), bellJob())
	require.NoError(t, err)

	changed := replaceOnce(t, d.config, "\t\t\tfsync decisions\n", "\t\t\tfsync interval\n")
	require.NotEqual(t, d.config, changed)
	resp, err := http.Post("http://localhost:2999/load", "text/caddyfile", strings.NewReader(changed))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
	assert.Contains(t, string(body), "fsync decisions")
	assert.Contains(t, string(body), "fsync interval")
	assert.Contains(t, string(body), "cannot change while the gateway runs")

	_, err = fatima.Job(t.Context(), job.ID)
	assert.NoError(t, err, "the configuration in force still serves")
	d.tester.InitServer(d.config, "caddyfile") // and the same settings reload
}
