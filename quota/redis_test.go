package quota

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/store"
)

func redisCounters(t *testing.T, addrs []string, cluster bool) *store.Redis {
	r := store.NewRedis(redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, IsClusterMode: cluster, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond}), "qgov:", 0)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestExactAcrossReplicas runs two governors (two gateway replicas) on
// one Redis, standalone and Cluster: of many concurrent submissions
// against each limit, exactly the limit is admitted.
func TestExactAcrossReplicas(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster bool
	}{{"redis", false}, {"redis-cluster", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var addrs []string
			if tc.cluster {
				addrs = testenv.RedisCluster(t)
			} else {
				addrs = []string{testenv.Redis(t)}
			}
			cfg := Config{Limits: []Rule{{Scope: ScopeUser, Tenant: "lab", Name: "u", Limits: Limits{MaxConcurrentJobs: intp(5), MaxJobsPerDay: intp(8)}}},
				Budgets: []Budget{{Scope: ScopeTenant, Name: "lab", MonthlyLimitUSD: 1000}}}
			replicas := [2]*Governor{newGovernor(t, cfg, redisCounters(t, addrs, tc.cluster), nil, nil),
				newGovernor(t, cfg, redisCounters(t, addrs, tc.cluster), nil, nil)}
			job := Job{Caller: Caller{Tenant: "lab", Project: "ml", User: "u"}, Instance: "QR", Backend: "ibm_x", Sub: submission(t, "ibm_x", 1000)}

			admitted := admitConcurrently(t, replicas, job, 40)
			require.Len(t, admitted, 5, "max_concurrent_jobs 5")
			// Two jobs end: two more may run, and the day's count reaches 7.
			for _, a := range admitted[:2] {
				ok, err := replicas[1].Settle(context.Background(), a.Reservation, 1)
				require.NoError(t, err)
				require.True(t, ok)
			}
			more := admitConcurrently(t, replicas, job, 40)
			assert.Len(t, more, 2)
			for _, a := range append(admitted[2:], more...) {
				_, err := replicas[0].Settle(context.Background(), a.Reservation, 1)
				require.NoError(t, err)
			}
			assert.Len(t, admitConcurrently(t, replicas, job, 40), 1, "max_jobs_per_day 8: one left today")
			u, err := replicas[0].Usage(context.Background(), job.Caller)
			require.NoError(t, err)
			require.Len(t, u.Budgets, 1)
			assert.InDelta(t, 7*1*DefaultPricePerSecond, u.Budgets[0].SpentUSD, 1e-6, "seven jobs settled at 1 s each")
		})
	}
}

func admitConcurrently(t *testing.T, replicas [2]*Governor, job Job, n int) []*Admission {
	var mu sync.Mutex
	var out []*Admission
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := replicas[i%2].Admit(context.Background(), job)
			if err != nil {
				assert.Equal(t, http.StatusTooManyRequests, runtimeapi.StatusOf(err.Code), err.Message)
				return
			}
			mu.Lock()
			out = append(out, a)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// TestFailModes stops Redis mid-test: classes failing closed answer 503
// and forward nothing, classes failing open admit on local counts; when
// Redis is back, admission uses it again without a restart.
func TestFailModes(t *testing.T) {
	srv := testenv.RedisRestartable(t)
	limits := Limits{MaxConcurrentJobs: intp(2), RequestsPerMinute: intp(100)}
	closed := newGovernor(t, Config{Limits: []Rule{{Scope: ScopeUser, Name: "u", Limits: limits}},
		Budgets: []Budget{{Scope: ScopeTenant, Name: "default", MonthlyLimitUSD: 100}}}, redisCounters(t, []string{srv.Addr}, false), nil, nil)
	open := newGovernor(t, Config{Limits: []Rule{{Scope: ScopeUser, Name: "u", Limits: limits}}, FailModes: map[string]string{ClassJobs: FailOpen}},
		redisCounters(t, []string{srv.Addr}, false), nil, nil)
	ctx := context.Background()
	caller := Caller{Tenant: "default", Project: "ml", User: "u"}
	job := Job{Caller: caller, Backend: "ibm_x", Sub: submission(t, "ibm_x", 100)}

	a, err := closed.Admit(ctx, job)
	require.Nil(t, err)
	assert.False(t, a.Local)

	srv.Stop()
	_, err = closed.Admit(ctx, job)
	require.NotNil(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, runtimeapi.StatusOf(err.Code))
	assert.Equal(t, "quota_unavailable", err.Code)
	assert.Equal(t, 5, err.RetryAfter)
	assert.Contains(t, err.Message, "fail_mode")
	_, err = closed.CheckRate(ctx, caller)
	assert.Nil(t, err, "requests per minute fail open by default, counted by the local tier")

	// fail_mode jobs open: admitted on local counts, which still limit.
	var local []*Admission
	for i := 0; i < 3; i++ {
		a, err := open.Admit(ctx, job)
		if err != nil {
			assert.Equal(t, "quota_exceeded", err.Code)
			continue
		}
		assert.True(t, a.Local)
		assert.Contains(t, a.Note, "local counts")
		local = append(local, a)
	}
	assert.Len(t, local, 2, "the local counts enforce max_concurrent_jobs on this replica")
	ok, serr := open.Settle(ctx, local[0].Reservation, 0)
	require.NoError(t, serr)
	assert.True(t, ok, "a locally admitted job settles locally")

	srv.Start() // empty: what was counted in it is gone, as after a failover
	for name, g := range map[string]*Governor{"fail_mode closed": closed, "fail_mode open": open} {
		// Each replica's pool finds Redis again on its own next dial.
		require.Eventually(t, func() bool {
			a, err := g.Admit(ctx, job)
			return err == nil && !a.Local
		}, 5*time.Second, 60*time.Millisecond, "%s: admission recovers without a restart", name)
	}
}

// TestRequestRates counts requests per minute per user and per key, the
// local tier refusing a burst before Redis is asked.
func TestRequestRates(t *testing.T) {
	addr := testenv.Redis(t)
	clk := &clock{t: time.Date(2026, 11, 21, 12, 0, 30, 0, time.UTC)}
	cfg := Config{Limits: []Rule{{Scope: ScopeTenant, Name: "default", Limits: Limits{RequestsPerMinute: intp(4)}}}}
	replicas := [2]*Governor{newGovernor(t, cfg, redisCounters(t, []string{addr}, false), clk.Now, nil),
		newGovernor(t, cfg, redisCounters(t, []string{addr}, false), clk.Now, nil)}
	user := Caller{Tenant: "default", Project: "ml", User: "u"}
	var passed atomic.Int32
	for i := 0; i < 8; i++ {
		h, err := replicas[i%2].CheckRate(context.Background(), user)
		if err == nil {
			passed.Add(1)
			assert.NotEmpty(t, h.Get("RateLimit-Remaining"))
			continue
		}
		assert.Equal(t, http.StatusTooManyRequests, runtimeapi.StatusOf(err.Code))
		assert.Equal(t, "rate_limited", err.Code)
		assert.Contains(t, err.Message, `user "u" has 4 requests this minute, and requests_per_minute is 4 (rule: requests_per_minute of tenant "default")`)
		assert.Equal(t, 30, err.RetryAfter)
		assert.Equal(t, "30", err.Header.Get("RateLimit-Reset"))
	}
	assert.EqualValues(t, 4, passed.Load(), "4 per minute across both replicas")

	clk.Set(clk.Now().Add(time.Minute))
	// A key's own rate applies on top of its owner's, counted per key.
	key := Caller{Tenant: "default", Project: "ml", User: "v", KeyID: "ci", KeyRate: 2}
	for i := 0; i < 2; i++ {
		_, err := replicas[0].CheckRate(context.Background(), key)
		require.Nil(t, err)
	}
	_, err := replicas[0].CheckRate(context.Background(), key)
	require.NotNil(t, err)
	assert.Contains(t, err.Message, `API key "ci"`)
	assert.Contains(t, err.Message, "this replica's bucket", "the local tier refused it before Redis")
	_, err = replicas[1].CheckRate(context.Background(), key)
	require.NotNil(t, err, fmt.Sprintf("the other replica counts the key in Redis: %v", err))
	assert.Contains(t, err.Message, `API key "ci" has 2 requests this minute`)
}
