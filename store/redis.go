package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store in Redis. A record lives at "<prefix>{<bucket>}:v:<key>"
// and its key in the sorted set "<prefix>{<bucket>}:i" (scored 0, so it
// is ordered bytewise and range-scanned with ZRANGEBYLEX). The hash tag
// puts a bucket's keys in one Cluster slot, so a record and its index
// change in one MULTI transaction on Cluster too. A bucket that grows
// with use can be spread (Spread) over shards, each "{<bucket>:<shard>}"
// with its own index, chosen by a hash of the key. Index entries of
// records that expired are removed when List meets them.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	// spread are the buckets spread over shards, with their shards' hash
	// tags.
	spread map[string][]string
	// errs counts the calls that failed (Errors).
	errs *atomic.Int64
}

// NewRedis returns a Store over client whose keys all start with prefix
// (for example "qgov:"). The client is closed by Close. With a positive
// timeout each call is bounded by it (the client must honour context
// deadlines: ContextTimeoutEnabled), and after a call that timed out or
// could not connect the next calls fail fast with ErrUnavailable for as
// long, so a server that hangs costs a request one timeout.
func NewRedis(client redis.UniversalClient, prefix string, timeout time.Duration) *Redis {
	r := &Redis{client: client, prefix: prefix, timeout: timeout, errs: new(atomic.Int64)}
	client.AddHook(traceCalls{})
	client.AddHook(errorCount{r.errs}) // before the breaker, so that it sees its fast failures
	if timeout > 0 {
		client.AddHook(&breaker{pause: timeout})
	}
	return r
}

// shards is how many hash slots a spread bucket is spread over: enough
// to use every node of a Cluster of a few, few enough that listing reads
// every shard in one pipeline.
const shards = 16

// Spread spreads the named buckets' records over shards, by a hash of
// each key, so that on a Cluster they are not all on one node. Call it
// before the store is used; Respread moves records that an earlier
// version kept in one slot.
func (r *Redis) Spread(buckets ...string) *Redis {
	r.spread = map[string][]string{}
	for _, b := range buckets {
		tags := make([]string, shards)
		for i := range tags {
			tags[i] = fmt.Sprintf("%s:%02x", b, i)
		}
		r.spread[b] = tags
	}
	return r
}

// bound gives a call its deadline.
func (r *Redis) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.timeout)
}

// valueKey is where a record's value is.
func (r *Redis) valueKey(bucket, key string) string {
	return r.tagged(r.slot(bucket, key), "v:", key)
}

// tagged is a key of the hash tag tag, built in one step:
// "<prefix>{<tag>}:v:<key>" for a record's value, "<prefix>{<tag>}:i"
// for an index.
func (r *Redis) tagged(tag, kind, key string) string { return r.prefix + "{" + tag + "}:" + kind + key }

// indexKey is the index that holds key.
func (r *Redis) indexKey(bucket, key string) string {
	return r.tagged(r.slot(bucket, key), "i", "")
}

// slot is the hash tag of a record: its bucket, and for a spread bucket
// the key's shard (bucket names hold no ':', so no bucket's tag is
// another's shard).
func (r *Redis) slot(bucket, key string) string {
	tags := r.spread[bucket]
	if tags == nil {
		return bucket
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return tags[h.Sum32()%shards]
}

// pruneIndex removes index entries (ARGV) whose value keys (KEYS[2..])
// still do not exist, so a record written again meanwhile keeps its entry.
var pruneIndex = redis.NewScript(`
for i, member in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then
    redis.call('ZREM', KEYS[1], member)
  end
end
return 0`)

// Get implements Store.
func (r *Redis) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	v, err := r.client.Get(ctx, r.valueKey(bucket, key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redis get %s/%s: %w", bucket, key, err)
	}
	return v, nil
}

// Put implements Store.
func (r *Redis) Put(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := checkName(bucket); err != nil {
		return err
	}
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, r.valueKey(bucket, key), value, ttl)
		p.ZAdd(ctx, r.indexKey(bucket, key), redis.Z{Member: key})
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Create implements Store.
func (r *Redis) Create(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := checkName(bucket); err != nil {
		return false, err
	}
	var set *redis.BoolCmd
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		set = p.SetNX(ctx, r.valueKey(bucket, key), value, ttl)
		p.ZAdd(ctx, r.indexKey(bucket, key), redis.Z{Member: key})
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("redis create %s/%s: %w", bucket, key, err)
	}
	return set.Val(), nil
}

// Replace implements Store: SET with XX, which stores only over a value
// that is there.
func (r *Redis) Replace(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := checkName(bucket); err != nil {
		return false, err
	}
	ok, err := r.client.SetXX(ctx, r.valueKey(bucket, key), value, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redis replace %s/%s: %w", bucket, key, err)
	}
	return ok, nil
}

// swapScript: KEYS = value key, index key; ARGV = old, new, ttl in ms
// (0: none), "1" to delete, the record's key. Both keys share the
// bucket's hash slot.
var swapScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[5])
elseif tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1`)

// CompareAndSwap implements Store with one script.
func (r *Redis) CompareAndSwap(ctx context.Context, bucket, key string, old, value []byte, ttl time.Duration) (bool, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := checkName(bucket); err != nil {
		return false, err
	}
	del := "0"
	if value == nil {
		del = "1"
	}
	n, err := swapScript.Run(ctx, r.client, []string{r.valueKey(bucket, key), r.indexKey(bucket, key)},
		old, value, ttl.Milliseconds(), del, key).Int()
	if err != nil {
		return false, fmt.Errorf("redis compare-and-swap %s/%s: %w", bucket, key, err)
	}
	return n == 1, nil
}

// Delete implements Store.
func (r *Redis) Delete(ctx context.Context, bucket, key string) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, r.valueKey(bucket, key))
		p.ZRem(ctx, r.indexKey(bucket, key), key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// List implements Store. A spread bucket's shards are merged in key
// order: each shard's index is read a chunk at a time (all the shards
// that need one in one pipeline) and the merge stops where a shard's
// chunk runs out, so that a page reads about twice the keys it returns;
// the values are read in another pipeline, one MGET per shard.
func (r *Redis) List(ctx context.Context, bucket, prefix, after string, limit int) ([]Entry, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	shards := []*cursor{{index: r.tagged(bucket, "i", ""), after: after}}
	chunk := limit
	if tags := r.spread[bucket]; tags != nil {
		shards = make([]*cursor, len(tags))
		for i, tag := range tags {
			shards[i] = &cursor{index: r.tagged(tag, "i", ""), after: after}
		}
		chunk = max(2*limit/len(tags), 16)
	}
	hi := "+"
	if prefix != "" {
		hi = "(" + prefix + "\xff"
	}
	var out []Entry
	for len(out) < limit {
		if err := r.refill(ctx, shards, prefix, hi, chunk); err != nil {
			return nil, fmt.Errorf("redis list %s: %w", bucket, err)
		}
		keys := merge(shards, limit-len(out))
		if len(keys) == 0 {
			break
		}
		found, err := r.values(ctx, bucket, keys)
		if err != nil {
			return nil, fmt.Errorf("redis list %s: %w", bucket, err)
		}
		out = append(out, found...)
	}
	return out, nil
}

// cursor is a shard's index being merged: the keys read and not yet
// merged, the last key read, and whether the shard has no more.
type cursor struct {
	index string
	keys  []string
	after string
	done  bool
}

// refill reads the next chunk of every shard whose keys ran out, in one
// pipeline.
func (r *Redis) refill(ctx context.Context, shards []*cursor, prefix, hi string, chunk int) error {
	reads := make([]*redis.StringSliceCmd, len(shards))
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range shards {
			if len(c.keys) > 0 || c.done {
				continue
			}
			lo := "[" + prefix
			if c.after != "" && c.after >= prefix {
				lo = "(" + c.after
			}
			reads[i] = p.ZRangeByLex(ctx, c.index, &redis.ZRangeBy{Min: lo, Max: hi, Count: int64(chunk)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, read := range reads {
		if read == nil {
			continue
		}
		c := shards[i]
		c.keys, c.done = read.Val(), len(read.Val()) < chunk
		if len(c.keys) > 0 {
			c.after = c.keys[len(c.keys)-1]
		}
	}
	return nil
}

// merge takes up to n keys in order from the shards' chunks, stopping
// where a shard that may hold more has none read: its next key could
// come first.
func merge(shards []*cursor, n int) []string {
	var keys []string
	for len(keys) < n {
		var first *cursor
		for _, c := range shards {
			if len(c.keys) == 0 {
				if !c.done {
					return keys
				}
				continue
			}
			if first == nil || c.keys[0] < first.keys[0] {
				first = c
			}
		}
		if first == nil {
			break
		}
		keys, first.keys = append(keys, first.keys[0]), first.keys[1:]
	}
	return keys
}

// values reads the records of keys, in their order, one MGET per slot in
// one pipeline; the index entries of records that are gone are removed.
func (r *Redis) values(ctx context.Context, bucket string, keys []string) ([]Entry, error) {
	bySlot := map[string][]string{}
	for _, k := range keys {
		bySlot[r.slot(bucket, k)] = append(bySlot[r.slot(bucket, k)], k)
	}
	gets := map[string]*redis.SliceCmd{}
	if _, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for slot, ks := range bySlot {
			vkeys := make([]string, len(ks))
			for i, k := range ks {
				vkeys[i] = r.valueKey(bucket, k)
			}
			gets[slot] = p.MGet(ctx, vkeys...)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	value := map[string]string{}
	for slot, ks := range bySlot {
		gone := []string{r.indexKey(bucket, ks[0])}
		var goneKeys []any
		for i, v := range gets[slot].Val() {
			if s, ok := v.(string); ok {
				value[ks[i]] = s
			} else {
				gone, goneKeys = append(gone, r.valueKey(bucket, ks[i])), append(goneKeys, ks[i])
			}
		}
		if len(goneKeys) > 0 {
			// Best effort: a failure leaves stale entries for the next List.
			_ = pruneIndex.Run(ctx, r.client, gone, goneKeys...).Err()
		}
	}
	var out []Entry
	for _, k := range keys {
		if v, ok := value[k]; ok {
			out = append(out, Entry{Key: k, Value: []byte(v)})
		}
	}
	return out, nil
}

// Client is the Redis client, for data kept beside the store's (the
// audit stream).
func (r *Redis) Client() redis.UniversalClient { return r.client }

// Close implements Store.
func (r *Redis) Close() error { return r.client.Close() }

// Respread moves the records of the spread buckets that an earlier
// version kept in one slot ("{<bucket>}") to their shards, keeping each
// one's expiry, and returns how many it moved; a record already in its
// shard stays. It reads, writes and removes 500 records at a time, each
// step one pipelined round trip, and can stop at any point and run
// again: a record is copied before it is removed from the old slot.
func (r *Redis) Respread(ctx context.Context) (int, error) {
	moved := 0
	for bucket := range r.spread {
		oldIndex, oldValue := r.tagged(bucket, "i", ""), r.tagged(bucket, "v:", "")
		for {
			keys, err := r.client.ZRangeByLex(ctx, oldIndex, &redis.ZRangeBy{Min: "-", Max: "+", Count: 500}).Result()
			if err != nil {
				return moved, fmt.Errorf("redis respread %s: %w", bucket, err)
			}
			if len(keys) == 0 {
				break
			}
			gets, ttls := make([]*redis.StringCmd, len(keys)), make([]*redis.DurationCmd, len(keys))
			if _, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					gets[i], ttls[i] = p.Get(ctx, oldValue+k), p.PTTL(ctx, oldValue+k)
				}
				return nil
			}); err != nil && !errors.Is(err, redis.Nil) {
				return moved, fmt.Errorf("redis respread %s: reading: %w", bucket, err)
			}
			for i := range keys { // only an absent record may be left behind
				if err := cmp.Or(ttls[i].Err(), gets[i].Err()); err != nil && !errors.Is(err, redis.Nil) {
					return moved, fmt.Errorf("redis respread %s/%s: reading: %w", bucket, keys[i], err)
				}
			}
			creates := make([]*redis.BoolCmd, len(keys))
			if _, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					ttl := ttls[i].Val()
					if gets[i].Err() != nil || ttl == -2 || ttl == 0 { // gone, or expiring now
						continue
					}
					creates[i] = p.SetNX(ctx, r.valueKey(bucket, k), gets[i].Val(), max(ttl, 0)) // -1: kept until deleted
					p.ZAdd(ctx, r.indexKey(bucket, k), redis.Z{Member: k})
				}
				return nil
			}); err != nil {
				return moved, fmt.Errorf("redis respread %s: writing: %w", bucket, err)
			}
			for _, c := range creates {
				if c != nil && c.Val() {
					moved++
				}
			}
			members := make([]any, len(keys))
			if _, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					members[i] = k
					p.Del(ctx, oldValue+k)
				}
				p.ZRem(ctx, oldIndex, members...)
				return nil
			}); err != nil {
				return moved, fmt.Errorf("redis respread %s: removing: %w", bucket, err)
			}
		}
	}
	return moved, nil
}
