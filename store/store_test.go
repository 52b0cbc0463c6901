package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/qgov/qgov/internal/testenv"
)

// TestConformance runs one suite against every implementation, each over
// the real thing: a bbolt file, a redis-server and a Redis Cluster.
func TestConformance(t *testing.T) {
	for _, impl := range []struct {
		name string
		open func(t *testing.T) Store
	}{
		{"bolt", func(t *testing.T) Store {
			s, err := OpenBolt(filepath.Join(t.TempDir(), "qgov.db"))
			require.NoError(t, err)
			return s
		}},
		{"redis", func(t *testing.T) Store {
			addr := testenv.Redis(t)
			return NewRedis(redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}}), "qgov:", 0)
		}},
		{"redis-cluster", func(t *testing.T) Store {
			addrs := testenv.RedisCluster(t)
			return NewRedis(redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, IsClusterMode: true}), "qgov:", 0)
		}},
		{"redis-spread", func(t *testing.T) Store {
			addr := testenv.Redis(t)
			return NewRedis(redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}}), "qgov:", 0).Spread(conformanceBuckets...)
		}},
		{"redis-cluster-spread", func(t *testing.T) Store {
			addrs := testenv.RedisCluster(t)
			return NewRedis(redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, IsClusterMode: true}), "qgov:", 0).Spread(conformanceBuckets...)
		}},
	} {
		t.Run(impl.name, func(t *testing.T) {
			s := impl.open(t)
			defer func() { assert.NoError(t, s.Close()) }()
			for _, c := range conformance {
				t.Run(c.name, func(t *testing.T) { c.run(t, s) })
			}
		})
	}
}

// conformanceBuckets are the buckets the conformance suite uses, spread
// over shards in the spread variants.
var conformanceBuckets = []string{"b1", "b2", "cas", "create", "crud", "list", "replace", "ttl", leasesBucket}

var conformance = []struct {
	name string
	run  func(t *testing.T, s Store)
}{
	{"get put delete", func(t *testing.T, s Store) {
		ctx := context.Background()
		_, err := s.Get(ctx, "crud", "a")
		assert.ErrorIs(t, err, ErrNotFound)
		require.NoError(t, s.Put(ctx, "crud", "a", []byte("1"), 0))
		require.NoError(t, s.Put(ctx, "crud", "a", []byte("2"), 0))
		v, err := s.Get(ctx, "crud", "a")
		require.NoError(t, err)
		assert.Equal(t, "2", string(v))
		require.NoError(t, s.Delete(ctx, "crud", "a"))
		require.NoError(t, s.Delete(ctx, "crud", "a"), "deleting an absent key is fine")
		_, err = s.Get(ctx, "crud", "a")
		assert.ErrorIs(t, err, ErrNotFound)
		entries, err := s.List(ctx, "crud", "", "", 10)
		require.NoError(t, err)
		assert.Empty(t, entries)
	}},
	{"buckets are separate", func(t *testing.T, s Store) {
		ctx := context.Background()
		require.NoError(t, s.Put(ctx, "b1", "k", []byte("one"), 0))
		require.NoError(t, s.Put(ctx, "b2", "k", []byte("two"), 0))
		v, err := s.Get(ctx, "b1", "k")
		require.NoError(t, err)
		assert.Equal(t, "one", string(v))
		assert.Error(t, s.Put(ctx, "bad{name}", "k", nil, 0))
		assert.Error(t, s.Put(ctx, "", "k", nil, 0))
	}},
	{"list pages by prefix in key order", func(t *testing.T, s Store) {
		ctx := context.Background()
		for _, k := range []string{"p/3", "p/1", "q/1", "p/2", "o/9", "p/10"} {
			require.NoError(t, s.Put(ctx, "list", k, []byte("v"+k), 0))
		}
		var keys []string
		after := ""
		for {
			page, err := s.List(ctx, "list", "p/", after, 2)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			assert.LessOrEqual(t, len(page), 2)
			for _, e := range page {
				keys = append(keys, e.Key)
				assert.Equal(t, "v"+e.Key, string(e.Value))
			}
			after = page[len(page)-1].Key
		}
		assert.Equal(t, []string{"p/1", "p/10", "p/2", "p/3"}, keys)
		all, err := s.List(ctx, "list", "", "", 100)
		require.NoError(t, err)
		assert.Len(t, all, 6)
	}},
	{"ttl expires records", func(t *testing.T, s Store) {
		ctx := context.Background()
		require.NoError(t, s.Put(ctx, "ttl", "short", []byte("x"), 50*time.Millisecond))
		require.NoError(t, s.Put(ctx, "ttl", "long", []byte("y"), time.Hour))
		v, err := s.Get(ctx, "ttl", "short")
		require.NoError(t, err)
		assert.Equal(t, "x", string(v))
		time.Sleep(120 * time.Millisecond)
		_, err = s.Get(ctx, "ttl", "short")
		assert.ErrorIs(t, err, ErrNotFound)
		entries, err := s.List(ctx, "ttl", "", "", 10)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		assert.Equal(t, "long", entries[0].Key)
		created, err := s.Create(ctx, "ttl", "short", []byte("z"), 0)
		require.NoError(t, err)
		assert.True(t, created, "an expired record can be created again")
	}},
	{"replace stores only over a record that is there", func(t *testing.T, s Store) {
		ctx := context.Background()
		ok, err := s.Replace(ctx, "replace", "absent", []byte("x"), 0)
		require.NoError(t, err)
		assert.False(t, ok, "nothing to replace")
		_, err = s.Get(ctx, "replace", "absent")
		assert.ErrorIs(t, err, ErrNotFound, "and nothing stored")
		require.NoError(t, s.Put(ctx, "replace", "there", []byte("old"), 0))
		ok, err = s.Replace(ctx, "replace", "there", []byte("new"), 0)
		require.NoError(t, err)
		assert.True(t, ok)
		v, err := s.Get(ctx, "replace", "there")
		require.NoError(t, err)
		assert.Equal(t, "new", string(v))
		require.NoError(t, s.Delete(ctx, "replace", "there"))
		ok, err = s.Replace(ctx, "replace", "there", []byte("back"), 0)
		require.NoError(t, err)
		assert.False(t, ok, "a deleted record is not brought back")
		_, err = s.Get(ctx, "replace", "there")
		assert.ErrorIs(t, err, ErrNotFound)
	}},
	{"compare-and-swap changes only what it saw", func(t *testing.T, s Store) {
		ctx := context.Background()
		ok, err := s.CompareAndSwap(ctx, "cas", "k", []byte("a"), []byte("b"), 0)
		require.NoError(t, err)
		assert.False(t, ok, "an absent record holds nothing")
		require.NoError(t, s.Put(ctx, "cas", "k", []byte("a"), 0))
		ok, err = s.CompareAndSwap(ctx, "cas", "k", []byte("x"), []byte("b"), 0)
		require.NoError(t, err)
		assert.False(t, ok, "another value")
		ok, err = s.CompareAndSwap(ctx, "cas", "k", []byte("a"), []byte("b"), 50*time.Millisecond)
		require.NoError(t, err)
		assert.True(t, ok)
		v, err := s.Get(ctx, "cas", "k")
		require.NoError(t, err)
		assert.Equal(t, "b", string(v))
		time.Sleep(120 * time.Millisecond)
		ok, err = s.CompareAndSwap(ctx, "cas", "k", []byte("b"), []byte("c"), 0)
		require.NoError(t, err)
		assert.False(t, ok, "an expired record holds nothing")
		require.NoError(t, s.Put(ctx, "cas", "k", []byte("d"), 0))
		ok, err = s.CompareAndSwap(ctx, "cas", "k", []byte("d"), nil, 0)
		require.NoError(t, err)
		assert.True(t, ok, "nil deletes")
		_, err = s.Get(ctx, "cas", "k")
		assert.ErrorIs(t, err, ErrNotFound)
		entries, err := s.List(ctx, "cas", "", "", 10)
		require.NoError(t, err)
		assert.Empty(t, entries, "and leaves no index entry")
	}},
	{"one holder of a lease at a time, among racing replicas", func(t *testing.T, s Store) {
		ctx := context.Background()
		const ttl = 300 * time.Millisecond
		var inside, most, turns atomic.Int32
		holders := map[string]bool{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := time.Now().Add(2 * time.Second)
		for _, node := range []string{"a", "b", "c"} {
			wg.Add(1)
			go func(node string) {
				defer wg.Done()
				for i := 0; time.Now().Before(stop); i++ {
					held, err := Lease(ctx, s, "race", node, ttl)
					if !assert.NoError(t, err) {
						return
					}
					if held { // well within the lease just renewed
						n := inside.Add(1)
						for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
						}
						mu.Lock()
						holders[node] = true
						mu.Unlock()
						turns.Add(1)
						time.Sleep(2 * time.Millisecond)
						inside.Add(-1)
					}
					switch {
					case held && i%40 == 39: // a holder that goes quiet lets the lease lapse
						time.Sleep(ttl + 50*time.Millisecond)
					case held && i%40 == 19: // one that stops releases it
						assert.NoError(t, Release(ctx, s, "race", node))
						time.Sleep(5 * time.Millisecond)
					default:
						time.Sleep(time.Millisecond)
					}
				}
			}(node)
		}
		wg.Wait()
		assert.EqualValues(t, 1, most.Load(), "never two holders at once")
		assert.Greater(t, len(holders), 1, "the lease changed hands (%d turns)", turns.Load())
	}},
	{"exactly one concurrent creator wins", func(t *testing.T, s Store) {
		ctx := context.Background()
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ok, err := s.Create(ctx, "create", "key", []byte(fmt.Sprint(i)), 0)
				assert.NoError(t, err)
				if ok {
					wins.Add(1)
				}
			}(i)
		}
		wg.Wait()
		assert.EqualValues(t, 1, wins.Load())
		v, err := s.Get(ctx, "create", "key")
		require.NoError(t, err)
		assert.NotEmpty(t, v)
	}},
}

func TestBoltSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qgov.db")
	s, err := OpenBolt(path)
	require.NoError(t, err)
	require.NoError(t, s.Put(context.Background(), "jobs", "j1", []byte("owner"), 0))

	// A second opener of the same file fails fast instead of hanging.
	_, err = OpenBolt(path)
	require.Error(t, err)
	require.NoError(t, s.Close())

	s, err = OpenBolt(path)
	require.NoError(t, err)
	defer s.Close()
	v, err := s.Get(context.Background(), "jobs", "j1")
	require.NoError(t, err)
	assert.Equal(t, "owner", string(v))
}

// TestRedisPersistenceProblems reads the settings of real servers: one
// that keeps nothing on disk, one that may evict, one fit to be the
// system of record.
func TestRedisPersistenceProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"nothing on disk", nil, []string{"keeps nothing on disk"}},
		{"evicting", []string{"--appendonly", "yes", "--maxmemory-policy", "allkeys-lru"}, []string{"maxmemory-policy allkeys-lru"}},
		{"append-only, no eviction", []string{"--appendonly", "yes"}, nil},
		{"snapshots only", []string{"--save", "60 1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRedis(redis.NewClient(&redis.Options{Addr: testenv.RedisWith(t, tc.args...)}), "qgov:", time.Second)
			defer r.Close()
			problems, err := r.PersistenceProblems(context.Background())
			require.NoError(t, err)
			require.Len(t, problems, len(tc.want), "%v", problems)
			for i, w := range tc.want {
				assert.Contains(t, problems[i], w)
			}
		})
	}
}

// TestRedisHungServer pauses a real redis-server: a call costs its
// timeout, the calls after it fail fast while the breaker is open, and
// once the server continues calls succeed again.
func TestRedisHungServer(t *testing.T) {
	srv := testenv.RedisRestartable(t)
	const timeout = 200 * time.Millisecond
	r := NewRedis(redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, ReadTimeout: timeout, WriteTimeout: timeout}), "qgov:", timeout)
	defer r.Close()
	ctx := context.Background()
	require.NoError(t, r.Put(ctx, "b", "k", []byte("v"), 0))
	_, err := r.Get(ctx, "b", "absent")
	require.ErrorIs(t, err, ErrNotFound)
	assert.Zero(t, r.Errors(), "an absent key is no failure")

	srv.Pause()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = r.Get(short, "b", "k")
	cancel()
	require.Error(t, err)
	start := time.Now()
	_, err = r.Get(ctx, "b", "k")
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrUnavailable, "a caller's own short deadline did not open the breaker")
	assert.Less(t, time.Since(start), timeout+100*time.Millisecond, "one call costs its timeout")
	start = time.Now()
	_, err = r.Get(ctx, "b", "k")
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.Less(t, time.Since(start), 20*time.Millisecond, "the next fails fast")
	failures := r.Errors()
	assert.GreaterOrEqual(t, failures, int64(3), "the calls that timed out and the fast failure count")

	srv.Resume()
	require.Eventually(t, func() bool {
		v, err := r.Get(ctx, "b", "k")
		return err == nil && string(v) == "v"
	}, 3*time.Second, 50*time.Millisecond, "calls succeed once the server answers")
	failures = r.Errors()
	for range 5 {
		require.NoError(t, r.Put(ctx, "b", "k", []byte("v"), 0))
	}
	assert.Equal(t, failures, r.Errors(), "calls that succeed count nothing")
}

// TestBoltWritesShareCommits writes from many goroutines at once: every
// write is kept, far fewer commits (fsyncs) than writes are made, and a
// write that fails (an empty key) fails alone, its group committed
// without it.
func TestBoltWritesShareCommits(t *testing.T) {
	b, err := OpenBolt(filepath.Join(t.TempDir(), "q.db"))
	require.NoError(t, err)
	defer b.Close()
	ctx := context.Background()
	const writers, each = 32, 20
	var wg sync.WaitGroup
	errs := make([]error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key := fmt.Sprintf("w%02d-%02d", w, i)
				if i%7 == 3 {
					key = "" // bbolt refuses an empty key
				}
				errs[w*each+i] = b.Put(ctx, "jobs", key, []byte(key), 0)
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		for i := range each {
			err := errs[w*each+i]
			if i%7 == 3 {
				assert.Error(t, err, "the failing write gets its error")
				continue
			}
			require.NoError(t, err)
			key := fmt.Sprintf("w%02d-%02d", w, i)
			v, err := b.Get(ctx, "jobs", key)
			require.NoError(t, err, "its group committed without the failing write")
			assert.Equal(t, key, string(v))
		}
	}
	commits := b.Commits()
	t.Logf("%d writes in %d commits", writers*each, commits)
	assert.Less(t, commits, uint64(writers*each/2), "concurrent writes share commits")
	require.NoError(t, b.Close())
	assert.ErrorIs(t, b.Put(ctx, "jobs", "late", nil, 0), ErrClosed)
}

// TestSpreadOverShards: a spread bucket's records sit in several Cluster
// slots, and list in key order across them; Respread moves the records
// an earlier version kept in one slot, with their expiry, and leaves a
// newer copy alone.
func TestSpreadOverShards(t *testing.T) {
	ctx := context.Background()
	addrs := testenv.RedisCluster(t)
	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, IsClusterMode: true})
	old := NewRedis(client, "qgov:", 0) // one slot, as before
	for i := range 40 {
		require.NoError(t, old.Put(ctx, "jobs", fmt.Sprintf("QR-ml/j%02d", i), []byte(fmt.Sprint(i)), 0))
	}
	require.NoError(t, old.Put(ctx, "jobs", "QR-ml/expiring", []byte("e"), time.Hour))
	spread := NewRedis(client, "qgov:", 0).Spread("jobs")
	_, err := spread.Get(ctx, "jobs", "QR-ml/j01")
	require.ErrorIs(t, err, ErrNotFound, "before respreading, the old slot is not read")
	require.NoError(t, spread.Put(ctx, "jobs", "QR-ml/j02", []byte("newer"), 0))

	moved, err := spread.Respread(ctx)
	require.NoError(t, err)
	assert.Equal(t, 40, moved, "all but the newer copy")
	v, err := spread.Get(ctx, "jobs", "QR-ml/j02")
	require.NoError(t, err)
	assert.Equal(t, "newer", string(v))
	ttl := client.PTTL(ctx, spread.valueKey("jobs", "QR-ml/expiring")).Val()
	assert.Greater(t, ttl, 59*time.Minute, "the expiry moves with the record")
	assert.Zero(t, client.Exists(ctx, "qgov:{jobs}:i").Val(), "the old index is gone")
	again, err := spread.Respread(ctx)
	require.NoError(t, err)
	assert.Zero(t, again)

	slots := map[int64]bool{}
	var keys []string
	after := ""
	for {
		page, err := spread.List(ctx, "jobs", "QR-ml/", after, 7)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			keys = append(keys, e.Key)
			slot, err := client.ClusterKeySlot(ctx, spread.valueKey("jobs", e.Key)).Result()
			require.NoError(t, err)
			slots[slot] = true
		}
		after = page[len(page)-1].Key
	}
	assert.Len(t, keys, 41)
	assert.True(t, slices.IsSorted(keys), "key order across shards")
	assert.Len(t, slots, shards, "every shard holds some of 41 records")

	// pages that need several chunks of each shard, some records expired
	var want []string
	for i := range 600 {
		k := fmt.Sprintf("QR-fin/j%03d", i)
		ttl := time.Duration(0)
		if i%7 == 0 {
			ttl = time.Millisecond
		} else {
			want = append(want, k)
		}
		require.NoError(t, spread.Put(ctx, "jobs", k, []byte("v"), ttl))
	}
	time.Sleep(20 * time.Millisecond)
	keys, after = nil, ""
	for {
		page, err := spread.List(ctx, "jobs", "QR-fin/", after, 100)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		assert.LessOrEqual(t, len(page), 100)
		for _, e := range page {
			keys = append(keys, e.Key)
		}
		after = page[len(page)-1].Key
	}
	assert.Equal(t, want, keys, "every live record once, in order")
}

// TestRedisCallsAreSpans: within a traced request each Redis call is a
// client span of the request's trace, a pipeline one span, a failure
// marked; outside a trace nothing is recorded.
func TestRedisCallsAreSpans(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	r := NewRedis(redis.NewClient(&redis.Options{Addr: testenv.Redis(t)}), "qgov:", 0).Spread("jobs")
	defer r.Close()
	require.NoError(t, r.Put(context.Background(), "jobs", "QR-ml/j0", []byte("v"), 0))
	require.Empty(t, spans.Ended(), "no trace, no span")

	ctx, req := tp.Tracer("caddy").Start(context.Background(), "request")
	_, err := r.Get(ctx, "jobs", "QR-ml/j0")
	require.NoError(t, err)
	_, err = r.List(ctx, "jobs", "", "", 10)
	require.NoError(t, err)
	_, err = r.client.Do(ctx, "NOSUCHCOMMAND").Result()
	require.Error(t, err)
	req.End()

	var names []string
	for _, s := range spans.Ended() {
		if s.Name() == "request" {
			continue
		}
		names = append(names, s.Name())
		assert.Equal(t, req.SpanContext().SpanID(), s.Parent().SpanID(), s.Name())
		assert.Equal(t, trace.SpanKindClient, s.SpanKind())
		if s.Name() == "redis NOSUCHCOMMAND" {
			assert.Equal(t, codes.Error, s.Status().Code)
		}
	}
	assert.Equal(t, []string{"redis GET", "redis pipeline", "redis pipeline", "redis NOSUCHCOMMAND"}, names,
		"the get, the list's two pipelined round trips (indexes, values), the failure")
}
