package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store in Redis. A record lives at "<prefix>{<bucket>}:v:<key>"
// and its key in the sorted set "<prefix>{<bucket>}:i" (scored 0, so it
// is ordered bytewise and range-scanned with ZRANGEBYLEX). The hash tag
// puts a bucket's keys in one Cluster slot, so a record and its index
// change in one MULTI transaction on Cluster too. Index entries of
// records that expired are removed when List meets them.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
}

// NewRedis returns a Store over client whose keys all start with prefix
// (for example "qgov:"). The client is closed by Close. With a positive
// timeout each call is bounded by it (the client must honour context
// deadlines: ContextTimeoutEnabled), and after a call that timed out or
// could not connect the next calls fail fast with ErrUnavailable for as
// long, so a server that hangs costs a request one timeout.
func NewRedis(client redis.UniversalClient, prefix string, timeout time.Duration) *Redis {
	if timeout > 0 {
		client.AddHook(&breaker{pause: timeout})
	}
	return &Redis{client: client, prefix: prefix, timeout: timeout}
}

// bound gives a call its deadline.
func (r *Redis) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.timeout)
}

func (r *Redis) valueKey(bucket, key string) string {
	return r.prefix + "{" + bucket + "}:v:" + key
}

func (r *Redis) indexKey(bucket string) string { return r.prefix + "{" + bucket + "}:i" }

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
		p.ZAdd(ctx, r.indexKey(bucket), redis.Z{Member: key})
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
		p.ZAdd(ctx, r.indexKey(bucket), redis.Z{Member: key})
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
	n, err := swapScript.Run(ctx, r.client, []string{r.valueKey(bucket, key), r.indexKey(bucket)},
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
		p.ZRem(ctx, r.indexKey(bucket), key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// List implements Store.
func (r *Redis) List(ctx context.Context, bucket, prefix, after string, limit int) ([]Entry, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	var out []Entry
	for len(out) < limit {
		lo := "[" + prefix
		if after != "" && after >= prefix {
			lo = "(" + after
		}
		hi := "+"
		if prefix != "" {
			hi = "(" + prefix + "\xff"
		}
		keys, err := r.client.ZRangeByLex(ctx, r.indexKey(bucket), &redis.ZRangeBy{Min: lo, Max: hi, Count: int64(limit - len(out))}).Result()
		if err != nil {
			return nil, fmt.Errorf("redis list %s: %w", bucket, err)
		}
		if len(keys) == 0 {
			break
		}
		vkeys := make([]string, len(keys))
		for i, k := range keys {
			vkeys[i] = r.valueKey(bucket, k)
		}
		vals, err := r.client.MGet(ctx, vkeys...).Result()
		if err != nil {
			return nil, fmt.Errorf("redis list %s: %w", bucket, err)
		}
		gone := []string{r.indexKey(bucket)}
		var goneKeys []any
		for i, v := range vals {
			if s, ok := v.(string); ok {
				out = append(out, Entry{Key: keys[i], Value: []byte(s)})
			} else {
				gone, goneKeys = append(gone, vkeys[i]), append(goneKeys, keys[i])
			}
		}
		if len(goneKeys) > 0 {
			// Best effort: a failure leaves stale entries for the next List.
			_ = pruneIndex.Run(ctx, r.client, gone, goneKeys...).Err()
		}
		after = keys[len(keys)-1]
	}
	return out, nil
}

// Client is the Redis client, for data kept beside the store's (the
// audit stream).
func (r *Redis) Client() redis.UniversalClient { return r.client }

// Close implements Store.
func (r *Redis) Close() error { return r.client.Close() }
