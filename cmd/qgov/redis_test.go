package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/qiskitclient"
	"github.com/qgov/qgov/internal/testenv"
)

// storeTimeout is the gateway's default store_timeout.
const storeTimeout = 500 * time.Millisecond

// TestHungRedis stops a real redis-server with SIGSTOP while users submit
// and poll jobs through a real gateway: every answer comes within
// store_timeout and a second, each one either served or 503 with
// Retry-After; once Redis continues, submissions and polls succeed again
// without restarting the gateway.
func TestHungRedis(t *testing.T) {
	redis := testenv.RedisRestartable(t)
	rig := newCrashRig(t, startSimulator(t, func(h http.Handler) http.Handler { return h }), "store redis "+redis.Addr)
	rig.start()
	ctx := context.Background()
	fatima := rig.client("fatima-key")
	created, err := fatima.Submit(ctx, crashJob())
	require.NoError(t, err)
	_, err = fatima.Token(ctx)
	require.NoError(t, err)

	var (
		stop            atomic.Bool
		mu              sync.Mutex
		served, refused int
		slowest         time.Duration
		wrong           []string
	)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				start := time.Now()
				var status int
				var header http.Header
				var body []byte
				var err error
				if w%2 == 0 {
					status, header, body, err = call(ctx, fatima, http.MethodGet, "/jobs/"+created.ID, nil)
				} else {
					status, header, body, err = call(ctx, fatima, http.MethodPost, "/jobs", crashJob())
				}
				took := time.Since(start)
				mu.Lock()
				slowest = max(slowest, took)
				switch {
				case err != nil:
					wrong = append(wrong, err.Error())
				case took > storeTimeout+time.Second:
					wrong = append(wrong, "answered after "+took.String())
				case status == http.StatusOK:
					served++
				case status == http.StatusServiceUnavailable && header.Get("Retry-After") != "":
					refused++
				default:
					wrong = append(wrong, http.StatusText(status)+": "+string(body))
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	redis.Pause()
	time.Sleep(3 * time.Second)
	redis.Resume()
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d served, %d refused with 503 and Retry-After, slowest answer %v", served, refused, slowest)
	assert.Empty(t, wrong, "every answer in time, served or 503 with Retry-After")
	assert.Positive(t, refused, "the hung store was noticed")

	require.Eventually(t, func() bool {
		_, err := fatima.Submit(ctx, crashJob())
		return err == nil
	}, 10*time.Second, 100*time.Millisecond, "submissions recover without a restart")
	_, err = fatima.Job(ctx, created.ID)
	assert.NoError(t, err, "and polls")
}

// TestRequirePersistence refuses to start over a Redis that keeps nothing
// on disk when the store requires persistence, and starts over one that
// appends every write.
func TestRequirePersistence(t *testing.T) {
	sim := startSimulator(t, func(h http.Handler) http.Handler { return h })
	volatile := newCrashRig(t, sim, "store redis "+testenv.Redis(t)+" {\n\t\t\trequire_persistence\n\t\t}")
	out, err := volatile.command("validate").CombinedOutput()
	require.NoError(t, err, "validation does not reach the store: %s", out)
	out, err = volatile.command("run").CombinedOutput()
	require.Error(t, err, "the gateway does not start")
	assert.Contains(t, string(out), "require_persistence")
	assert.Contains(t, string(out), "keeps nothing on disk")

	durable := newCrashRig(t, sim, "store redis "+testenv.RedisWith(t, "--appendonly", "yes")+" {\n\t\t\trequire_persistence\n\t\t}")
	durable.start()
	log, err := os.ReadFile(durable.log.Name())
	require.NoError(t, err)
	assert.False(t, strings.Contains(string(log), "may lose governance state"), "no warning for a durable Redis")
	_, err = durable.client("fatima-key").Submit(context.Background(), crashJob())
	assert.NoError(t, err)
}

// call sends a Runtime API request as c with the headers a Qiskit client
// sends, and returns the whole answer.
func call(ctx context.Context, c *qiskitclient.Client, method, path string, body any) (int, http.Header, []byte, error) {
	token, err := c.Token(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+"/api/v1"+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Service-CRN", c.CRN)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out, err
}
