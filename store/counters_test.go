package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/testenv"
)

// countersPair opens two handles on one set of counters, as two gateway
// replicas would (for bolt and memory, one node's single handle twice).
type countersPair func(t *testing.T) [2]Counters

func redisPair(cluster bool) countersPair {
	return func(t *testing.T) [2]Counters {
		var addrs []string
		if cluster {
			addrs = testenv.RedisCluster(t)
		} else {
			addrs = []string{testenv.Redis(t)}
		}
		var out [2]Counters
		for i := range out {
			r := NewRedis(redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, IsClusterMode: cluster}), "qgov:", 0)
			t.Cleanup(func() { _ = r.Close() })
			out[i] = r
		}
		return out
	}
}

// TestCounters runs one suite against every implementation of Counters,
// each over the real thing.
func TestCounters(t *testing.T) {
	for _, impl := range []struct {
		name string
		open countersPair
	}{
		{"bolt", func(t *testing.T) [2]Counters {
			b, err := OpenBolt(filepath.Join(t.TempDir(), "qgov.db"))
			require.NoError(t, err)
			t.Cleanup(func() { _ = b.Close() })
			return [2]Counters{b, b}
		}},
		{"memory", func(*testing.T) [2]Counters { m := NewMemory(nil); return [2]Counters{m, m} }},
		{"redis", redisPair(false)},
		{"redis-cluster", redisPair(true)},
	} {
		t.Run(impl.name, func(t *testing.T) {
			pair := impl.open(t)
			for i, c := range counterSuite {
				t.Run(c.name, func(t *testing.T) { c.run(t, pair, fmt.Sprintf("tenant-%d", i)) })
			}
		})
	}
}

var counterSuite = []struct {
	name string
	run  func(t *testing.T, cs [2]Counters, scope string)
}{
	{"concurrent admissions through two handles admit exactly the limit", func(t *testing.T, cs [2]Counters, scope string) {
		const limit, tries = 7, 60
		var mu sync.Mutex
		admitted := 0
		var wg sync.WaitGroup
		for i := 0; i < tries; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := cs[i%2].Admit(context.Background(), scope, Admission{ID: fmt.Sprintf("r%d", i), Record: []byte("x"), TTL: time.Hour},
					[]Counter{{Key: "tally", Limit: -1, Amount: 1}, {Key: "running", Limit: limit, Amount: 1}})
				assert.NoError(t, err)
				if v.Admitted {
					mu.Lock()
					admitted++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, limit, admitted)
		vals, err := cs[0].Values(context.Background(), scope, []string{"running", "tally", "absent"})
		require.NoError(t, err)
		assert.Equal(t, []int64{limit, limit, 0}, vals, "a refused admission moves no counter, not even one before the refusing one")
		open, err := cs[1].Open(context.Background(), scope)
		require.NoError(t, err)
		assert.Len(t, open, limit)
	}},
	{"a refusal reports the counter and its value", func(t *testing.T, cs [2]Counters, scope string) {
		ctx := context.Background()
		v, err := cs[0].Admit(ctx, scope, Admission{ID: "a"}, []Counter{{Key: "spend", Limit: 100, Amount: 60}})
		require.NoError(t, err)
		require.True(t, v.Admitted)
		assert.Equal(t, []int64{60}, v.Values)
		v, err = cs[1].Admit(ctx, scope, Admission{ID: "b"}, []Counter{{Key: "other", Limit: 5, Amount: 1}, {Key: "spend", Limit: 100, Amount: 41, OverKey: "spend:over"}})
		require.NoError(t, err)
		assert.False(t, v.Admitted)
		assert.Equal(t, 1, v.Refused)
		assert.EqualValues(t, 60, v.Current)
		assert.True(t, v.FirstOver)
		v, err = cs[0].Admit(ctx, scope, Admission{ID: "c"}, []Counter{{Key: "spend", Limit: 100, Amount: 41, OverKey: "spend:over"}})
		require.NoError(t, err)
		assert.False(t, v.FirstOver, "the first refusal is reported once")
		open, err := cs[0].Open(ctx, scope)
		require.NoError(t, err)
		require.Len(t, open, 1)
		assert.Equal(t, "a", open[0].Key)
	}},
	{"settling applies once and never goes below zero", func(t *testing.T, cs [2]Counters, scope string) {
		ctx := context.Background()
		_, err := cs[0].Admit(ctx, scope, Admission{ID: "job", Record: []byte(`{"v":1}`), TTL: time.Hour},
			[]Counter{{Key: "running", Limit: 3, Amount: 1}, {Key: "spend", Limit: -1, Amount: 500}})
		require.NoError(t, err)
		ok, err := cs[1].Rewrite(ctx, scope, "job", []byte(`{"v":2}`))
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = cs[1].Rewrite(ctx, scope, "nope", []byte(`{}`))
		require.NoError(t, err)
		assert.False(t, ok)
		open, err := cs[0].Open(ctx, scope)
		require.NoError(t, err)
		require.Len(t, open, 1)
		assert.JSONEq(t, `{"v":2}`, string(open[0].Value))

		var wg sync.WaitGroup
		settled := make(chan bool, 4)
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, _, err := cs[i%2].Settle(ctx, scope, "job", []Counter{{Key: "running", Amount: -5}, {Key: "spend", Amount: 200}})
				assert.NoError(t, err)
				settled <- ok
			}()
		}
		wg.Wait()
		close(settled)
		n := 0
		for ok := range settled {
			if ok {
				n++
			}
		}
		assert.Equal(t, 1, n, "two reconcilers settling one job apply it once")
		vals, err := cs[0].Values(ctx, scope, []string{"running", "spend"})
		require.NoError(t, err)
		assert.Equal(t, []int64{0, 700}, vals)
		open, err = cs[0].Open(ctx, scope)
		require.NoError(t, err)
		assert.Empty(t, open)
	}},
	{"a rewrite stores its records with it", func(t *testing.T, cs [2]Counters, scope string) {
		ctx := context.Background()
		_, err := cs[0].Admit(ctx, scope, Admission{ID: "job", Record: []byte(`{"v":1}`), TTL: time.Hour}, nil)
		require.NoError(t, err)
		own := Write{Bucket: "jobs", Key: scope + "/QR-ml/j1", Value: []byte(`{"owner":"fatima"}`)}
		st, isStore := cs[1].(Store)
		ok, err := cs[1].Rewrite(ctx, scope, "job", []byte(`{"v":2}`), own)
		if !isStore {
			assert.Error(t, err, "counters that keep no records refuse them")
			return
		}
		require.NoError(t, err)
		assert.True(t, ok)
		v, err := st.Get(ctx, "jobs", own.Key)
		require.NoError(t, err)
		assert.JSONEq(t, `{"owner":"fatima"}`, string(v))
		listed, err := st.List(ctx, "jobs", scope+"/", "", 10)
		require.NoError(t, err)
		assert.Len(t, listed, 1, "listed too")
		open, err := cs[0].Open(ctx, scope)
		require.NoError(t, err)
		require.Len(t, open, 1)
		assert.JSONEq(t, `{"v":2}`, string(open[0].Value))

		own.Key = scope + "/QR-ml/j2"
		ok, err = cs[0].Rewrite(ctx, scope, "gone", []byte(`{}`), own)
		require.NoError(t, err)
		assert.False(t, ok, "no such reservation")
		_, err = st.Get(ctx, "jobs", own.Key)
		assert.NoError(t, err, "its records are stored all the same")
	}},
	{"an alert fires once when a counter crosses it", func(t *testing.T, cs [2]Counters, scope string) {
		ctx := context.Background()
		var mu sync.Mutex
		fired := 0
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := cs[i%2].Admit(ctx, scope, Admission{}, []Counter{{Key: "spend", Limit: 1000, Amount: 10, Alert: 80, AlertKey: "spend:alert"}})
				assert.NoError(t, err)
				mu.Lock()
				fired += len(v.Alerts)
				mu.Unlock()
			}()
		}
		wg.Wait()
		assert.Equal(t, 1, fired)
		open, err := cs[0].Open(ctx, scope)
		require.NoError(t, err)
		assert.Empty(t, open, "an admission without an id records no reservation")
	}},
	{"windowed counters expire", func(t *testing.T, cs [2]Counters, scope string) {
		ctx := context.Background()
		_, err := cs[0].Admit(ctx, scope, Admission{}, []Counter{{Key: "minute", Limit: 5, Amount: 1, TTL: 300 * time.Millisecond}})
		require.NoError(t, err)
		vals, err := cs[0].Values(ctx, scope, []string{"minute"})
		require.NoError(t, err)
		assert.Equal(t, []int64{1}, vals)
		require.Eventually(t, func() bool {
			vals, err := cs[1].Values(ctx, scope, []string{"minute"})
			return err == nil && vals[0] == 0
		}, 5*time.Second, 50*time.Millisecond)
	}},
}
