package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/qiskitclient"
	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/simulator"
)

// TestMain keeps Caddy's autosave and data out of the user's home.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "qgov-caddytest-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)
	os.Setenv("XDG_DATA_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// keepAlive is an HTTP client that keeps a connection for each of
// underTraffic's goroutines: a GET on a kept connection that a reload's
// old server closes is retried by Go's transport, while a connection
// opened just as that server stops is not, and the default pool of two
// idle connections per host opens new ones all the time.
func keepAlive() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
}

// underTraffic runs request in a loop from four goroutines (worker 0 to
// 3) while change runs, and returns how many requests were made, how many
// got an error answer, and how many a connection error: the reset a
// client may meet at the instant Caddy's old server closes its idle
// connections, which never reached the server (see the README on
// reloads).
func underTraffic(request func(worker int) error, change func()) (requests, failures, resets int64) {
	var made, failed, reset atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				made.Add(1)
				var answered *qiskitclient.Error
				switch err := request(w); {
				case errors.As(err, &answered):
					failed.Add(1)
				case err != nil:
					reset.Add(1)
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	change()
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	return made.Load(), failed.Load(), reset.Load()
}

// simulatorSite is a Caddyfile serving the simulator on port; extra adds
// directives to the site (to force a reload without touching the simulator).
func simulatorSite(port, maxQubits int, extra string) string {
	return fmt.Sprintf(`{
	admin localhost:2999
	skip_install_trust
	http_port %d
}
:%d {
	bind 127.0.0.1
	%s
	qgov_simulator {
		max_qubits %d
	}
}`, port, port, extra, maxQubits)
}

// TestSimulatorInCaddy runs the Qiskit client session against the
// qgov_simulator handler in a real Caddy, then reloads the config under
// traffic: with an unchanged simulator configuration its jobs survive and
// no request fails; with a changed one the new limits apply.
func TestSimulatorInCaddy(t *testing.T) {
	port := testenv.FreePort(t)
	tester := caddytest.NewTester(t)
	tester.InitServer(simulatorSite(port, 26, ""), "caddyfile")

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	qc := &qiskitclient.Client{BaseURL: base, APIKey: simulator.DemoAPIKey, CRN: simulator.DemoCRN("qr-ml"), HTTP: keepAlive()}
	ctx := t.Context()
	report, err := qiskitclient.Session(ctx, qc)
	require.NoError(t, err)

	requests, failures, resets := underTraffic(func(int) error { _, err := qc.Job(ctx, report.JobID); return err }, func() {
		tester.InitServer(simulatorSite(port, 26, `respond /health "ok"`), "caddyfile")
	})
	assert.Zero(t, failures, "of %d requests during the reload", requests)
	assert.LessOrEqual(t, resets*20, requests, "connection resets at the reload's instant only")
	assert.Greater(t, requests, int64(10))

	j, err := qc.Job(ctx, report.JobID)
	require.NoError(t, err, "the job survived the reload")
	assert.Equal(t, runtimeapi.StatusCompleted, j.State.Status)
	resp, err := http.Get(base + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// A changed simulator configuration starts a new simulator. The client
	// gets its own connections: a POST is not retried on a keep-alive
	// connection the previous config's server closed.
	tester.InitServer(simulatorSite(port, 4, ""), "caddyfile")
	fresh := &qiskitclient.Client{BaseURL: base, APIKey: simulator.DemoAPIKey, CRN: simulator.DemoCRN("qr-ml"),
		HTTP: &http.Client{Transport: &http.Transport{}}}
	var apiErr *qiskitclient.Error
	for attempt := 0; attempt < 5; attempt++ { // a connection reset at the reload's instant never reached the server: retry it
		_, err = fresh.Submit(context.Background(), runtimeapi.JobRequest{
			ProgramID: "sampler", Backend: "qgov_simulator",
			Params: []byte(`{"pubs":[["OPENQASM 3.0; bit c; h $0; h $1; h $2; h $3; h $4; c = measure $0;"]]}`),
		})
		if errors.As(err, &apiErr) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.ErrorAs(t, err, &apiErr)
	item, ok := apiErr.Item()
	require.True(t, ok)
	assert.Equal(t, "too_many_qubits", item.Code)
}
