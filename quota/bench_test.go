package quota

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/store"
)

// benchConfig applies the demo's tenant limits and a budget, so an
// admission checks and moves six counters and records a reservation.
var benchConfig = Config{
	Limits: []Rule{{Scope: ScopeTenant, Name: "default", Limits: Limits{MaxConcurrentJobs: intp(1 << 30), MaxJobsPerHour: intp(1 << 30),
		MaxJobsPerDay: intp(1 << 30), MaxShotsPerJob: intp(100000), MaxQubitsPerCircuit: intp(127)}}},
	Budgets: []Budget{{Scope: ScopeTenant, Name: "default", MonthlyLimitUSD: 1e12}},
}

// BenchmarkAdmit measures one job's admission with each store; on Redis
// it is one script call, so one round trip.
func BenchmarkAdmit(b *testing.B) {
	for _, tc := range []struct {
		name string
		open func(b *testing.B) Counters
	}{
		{"memory", func(*testing.B) Counters { return store.NewMemory(nil) }},
		{"bolt", func(b *testing.B) Counters {
			s, err := store.OpenBolt(filepath.Join(b.TempDir(), "qgov.db"))
			require.NoError(b, err)
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"redis", func(b *testing.B) Counters {
			return store.NewRedis(redis.NewClient(&redis.Options{Addr: testenv.Redis(b)}), "qgov:", 0)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			g, err := New(benchConfig, tc.open(b), Options{})
			require.NoError(b, err)
			job := Job{Caller: Caller{Tenant: "default", Project: "ml", User: "u"}, Instance: "QR", Backend: "ibm_x", Sub: submission(b, "ibm_x", 1000)}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := g.Admit(ctx, job); err != nil {
						b.Error(err.Message)
						return
					}
				}
			})
		})
	}
}

// countCalls counts the commands a Redis client sends, pipelines as one.
type countCalls struct{ n *atomic.Int32 }

func (c countCalls) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c countCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c countCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// TestAdmitIsOneRoundTrip counts the calls an admission makes to Redis
// once its script is loaded.
func TestAdmitIsOneRoundTrip(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	var n atomic.Int32
	client.AddHook(countCalls{&n})
	g, err := New(benchConfig, store.NewRedis(client, "qgov:", 0), Options{})
	require.NoError(t, err)
	job := Job{Caller: Caller{Tenant: "default", Project: "ml", User: "u"}, Instance: "QR", Backend: "ibm_x", Sub: submission(t, "ibm_x", 1000)}
	_, aerr := g.Admit(context.Background(), job) // loads the script
	require.Nil(t, aerr)
	n.Store(0)
	a, aerr := g.Admit(context.Background(), job)
	require.Nil(t, aerr)
	assert.Len(t, a.Held, 5, "three job counts, and the budget's spend and its reserved part")
	assert.EqualValues(t, 1, n.Load(), "one round trip")
}
