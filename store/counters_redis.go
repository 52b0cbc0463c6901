package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Counters on Redis: a scope's counters are "<prefix>q{<scope>}:c:<key>",
// its reservations "<prefix>q{<scope>}:r:<id>" and the set of open ones
// "<prefix>q{<scope>}:open". The hash tag keeps a scope in one Cluster
// slot, so each script runs on one node in one round trip.

func (r *Redis) scopeKey(scope, kind, name string) string {
	return r.prefix + "q{" + scope + "}:" + kind + name
}

// moveLua is the script's move(): add amount (never below zero), expire
// a counter it creates, and report an alert crossing once.
const moveLua = `
local function move(key, amount, ttl, alert, alertKey, markerTTL)
  local existed = redis.call('EXISTS', key) == 1
  local cur = tonumber(redis.call('GET', key) or '0')
  local nxt = cur + amount
  if nxt < 0 then nxt = 0 end
  if existed then
    redis.call('SET', key, nxt, 'KEEPTTL')
  elseif ttl > 0 then
    redis.call('SET', key, nxt, 'PX', ttl)
  else
    redis.call('SET', key, nxt)
  end
  if alert > 0 and cur < alert and nxt >= alert then
    return nxt, redis.call('SET', alertKey, 1, 'NX', 'PX', markerTTL) and 1 or 0
  end
  return nxt, 0
end
`

// admitScript: KEYS = open set, reservation, then per counter its key,
// alert marker and over marker; ARGV = id, record, reservation TTL (ms),
// marker TTL (ms), then per counter limit, amount, TTL (ms), alert value,
// whether it has an over marker. It returns {1, values..., alerts...}
// when admitted, {0, index, current, firstOver} when refused (indexes
// 1-based). An empty id records no reservation.
var admitScript = redis.NewScript(moveLua + `
local n = (#KEYS - 2) / 3
local markerTTL = tonumber(ARGV[4])
for i = 1, n do
  local a = 4 + (i - 1) * 5
  local limit, amount = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local cur = tonumber(redis.call('GET', KEYS[3 + (i - 1) * 3]) or '0')
  if limit >= 0 and cur + amount > limit then
    local first = 0
    if ARGV[a + 5] == '1' and redis.call('SET', KEYS[5 + (i - 1) * 3], 1, 'NX', 'PX', markerTTL) then first = 1 end
    return {0, i, cur, first}
  end
end
local out, alerts = {1}, {}
for i = 1, n do
  local a = 4 + (i - 1) * 5
  local k = 3 + (i - 1) * 3
  local v, crossed = move(KEYS[k], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), KEYS[k + 1], markerTTL)
  table.insert(out, v)
  if crossed == 1 then table.insert(alerts, i) end
end
for _, i in ipairs(alerts) do table.insert(out, i) end
if ARGV[1] ~= '' then
  if tonumber(ARGV[3]) > 0 then
    redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  else
    redis.call('SET', KEYS[2], ARGV[2])
  end
  redis.call('SADD', KEYS[1], ARGV[1])
end
return out`)

// settleScript: KEYS = open set, reservation, then per counter its key
// and alert marker; ARGV = id, marker TTL (ms), then per counter amount,
// TTL (ms), alert value. It returns {1, alerts...}, or {0} when the
// reservation is not open.
var settleScript = redis.NewScript(moveLua + `
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SREM', KEYS[1], ARGV[1])
  return {0}
end
local n = (#KEYS - 2) / 2
local markerTTL = tonumber(ARGV[2])
local out = {1}
for i = 1, n do
  local a = 2 + (i - 1) * 3
  local k = 3 + (i - 1) * 2
  local _, crossed = move(KEYS[k], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), KEYS[k + 1], markerTTL)
  if crossed == 1 then table.insert(out, i) end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[1], ARGV[1])
return out`)

// ms renders a duration in milliseconds for a script.
func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// marker is the key of an alert or over marker; an unused one is named
// after its counter so that every key stays in the scope's slot.
func (r *Redis) marker(scope, name, counter, suffix string) string {
	if name == "" {
		name = counter + suffix
	}
	return r.scopeKey(scope, "m:", name)
}

// Admit implements Counters in one script call.
func (r *Redis) Admit(ctx context.Context, scope string, a Admission, cs []Counter) (Verdict, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	keys := []string{r.scopeKey(scope, "open", ""), r.scopeKey(scope, "r:", a.ID)}
	args := []any{a.ID, a.Record, ms(a.TTL), ms(markerTTL)}
	for _, c := range cs {
		keys = append(keys, r.scopeKey(scope, "c:", c.Key), r.marker(scope, c.AlertKey, c.Key, ":alert"), r.marker(scope, c.OverKey, c.Key, ":over"))
		over := "0"
		if c.OverKey != "" {
			over = "1"
		}
		args = append(args, c.Limit, c.Amount, ms(c.TTL), c.Alert, over)
	}
	res, err := admitScript.Run(ctx, r.client, keys, args...).Int64Slice()
	if err != nil {
		return Verdict{}, fmt.Errorf("redis admit in %s: %w", scope, err)
	}
	if len(res) == 0 {
		return Verdict{}, errors.New("redis admit: empty answer")
	}
	if res[0] == 0 {
		return Verdict{Refused: int(res[1]) - 1, Current: res[2], FirstOver: res[3] == 1}, nil
	}
	if len(res) < 1+len(cs) {
		return Verdict{}, fmt.Errorf("redis admit: %d values for %d counters", len(res)-1, len(cs))
	}
	v := Verdict{Admitted: true, Refused: -1, Values: res[1 : 1+len(cs)]}
	for _, i := range res[1+len(cs):] {
		v.Alerts = append(v.Alerts, int(i)-1)
	}
	return v, nil
}

// Settle implements Counters in one script call.
func (r *Redis) Settle(ctx context.Context, scope, id string, cs []Counter) (bool, []int, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	keys := []string{r.scopeKey(scope, "open", ""), r.scopeKey(scope, "r:", id)}
	args := []any{id, ms(markerTTL)}
	for _, c := range cs {
		keys = append(keys, r.scopeKey(scope, "c:", c.Key), r.marker(scope, c.AlertKey, c.Key, ":alert"))
		args = append(args, c.Amount, ms(c.TTL), c.Alert)
	}
	res, err := settleScript.Run(ctx, r.client, keys, args...).Int64Slice()
	if err != nil {
		return false, nil, fmt.Errorf("redis settle %s in %s: %w", id, scope, err)
	}
	if len(res) == 0 || res[0] == 0 {
		return false, nil, nil
	}
	var alerts []int
	for _, i := range res[1:] {
		alerts = append(alerts, int(i)-1)
	}
	return true, alerts, nil
}

// Rewrite implements Counters.
func (r *Redis) Rewrite(ctx context.Context, scope, id string, record []byte, also ...Write) (bool, error) {
	for _, w := range also {
		if err := checkName(w.Bucket); err != nil {
			return false, err
		}
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	key := r.scopeKey(scope, "r:", id)
	rewrite := func(p redis.Cmdable) *redis.StatusCmd {
		return p.SetArgs(ctx, key, record, redis.SetArgs{Mode: "XX", KeepTTL: true})
	}
	var cmd *redis.StatusCmd
	var err error
	if _, cluster := r.client.(*redis.ClusterClient); cluster || len(also) == 0 {
		// a Cluster keeps them in different slots: also first, then the
		// reservation
		for _, w := range also {
			if err := r.Put(ctx, w.Bucket, w.Key, w.Value, 0); err != nil {
				return false, err
			}
		}
		cmd = rewrite(r.client)
		err = cmd.Err()
	} else {
		_, err = r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, w := range also {
				p.Set(ctx, r.valueKey(w.Bucket, w.Key), w.Value, 0)
				p.ZAdd(ctx, r.indexKey(w.Bucket, w.Key), redis.Z{Member: w.Key})
			}
			cmd = rewrite(p)
			return nil
		})
		if errors.Is(err, redis.Nil) {
			err = cmd.Err()
		}
	}
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redis rewrite %s in %s: %w", id, scope, err)
	}
	return true, nil
}

// Open implements Counters; ids whose reservation expired are dropped
// from the set.
func (r *Redis) Open(ctx context.Context, scope string) ([]Entry, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	ids, err := r.client.SMembers(ctx, r.scopeKey(scope, "open", "")).Result()
	if err != nil {
		return nil, fmt.Errorf("redis open reservations in %s: %w", scope, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.scopeKey(scope, "r:", id)
	}
	vals, err := r.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis open reservations in %s: %w", scope, err)
	}
	var out []Entry
	var gone []any
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out = append(out, Entry{Key: ids[i], Value: []byte(s)})
		} else {
			gone = append(gone, ids[i])
		}
	}
	if len(gone) > 0 {
		_ = r.client.SRem(ctx, r.scopeKey(scope, "open", ""), gone...).Err() // best effort
	}
	return out, nil
}

// Values implements Counters.
func (r *Redis) Values(ctx context.Context, scope string, keys []string) ([]int64, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	out := make([]int64, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = r.scopeKey(scope, "c:", k)
	}
	vals, err := r.client.MGet(ctx, full...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis counters in %s: %w", scope, err)
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i], _ = strconv.ParseInt(s, 10, 64)
		}
	}
	return out, nil
}
