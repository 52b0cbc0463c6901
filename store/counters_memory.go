package store

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"
)

// Memory is Counters in this process's memory: a replica's local tier,
// which counts what it admits while the shared store is unreachable.
type Memory struct {
	mu   sync.Mutex
	now  func() time.Time
	vals map[string]memValue
	res  map[string]memValue
}

type memValue struct {
	n       int64
	record  []byte
	expires time.Time
}

// NewMemory returns empty in-memory counters; now is the clock of
// expiries (nil for time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, vals: map[string]memValue{}, res: map[string]memValue{}}
}

// memTx is a counterTx over the maps, run under the lock.
type memTx struct {
	m     *Memory
	scope string
	now   time.Time
}

func (t memTx) get(m map[string]memValue, k string) (memValue, bool) {
	v, ok := m[t.scope+"\x00"+k]
	if ok && !v.expires.IsZero() && !t.now.Before(v.expires) {
		delete(m, t.scope+"\x00"+k)
		return memValue{}, false
	}
	return v, ok
}

func (t memTx) expiry(ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return t.now.Add(ttl)
}

func (t memTx) value(key string) int64 { v, _ := t.get(t.m.vals, key); return v.n }

func (t memTx) exists(key string) bool { _, ok := t.get(t.m.vals, key); return ok }

func (t memTx) setValue(key string, n int64, ttl time.Duration) {
	v, ok := t.get(t.m.vals, key)
	if !ok || ttl > 0 {
		v.expires = t.expiry(ttl)
	}
	v.n = n
	t.m.vals[t.scope+"\x00"+key] = v
}

func (t memTx) mark(key string, ttl time.Duration) bool {
	if t.exists(key) {
		return false
	}
	t.setValue(key, 1, ttl)
	return true
}

func (t memTx) reserved(id string) bool { _, ok := t.get(t.m.res, id); return ok }

func (t memTx) putReservation(id string, record []byte, ttl time.Duration) {
	t.m.res[t.scope+"\x00"+id] = memValue{record: record, expires: t.expiry(ttl)}
}

func (t memTx) deleteReservation(id string) { delete(t.m.res, t.scope+"\x00"+id) }

func (m *Memory) tx(scope string) memTx { return memTx{m: m, scope: scope, now: m.now()} }

// Admit implements Counters.
func (m *Memory) Admit(_ context.Context, scope string, a Admission, cs []Counter) (Verdict, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return admitTx(m.tx(scope), a, cs), nil
}

// Settle implements Counters.
func (m *Memory) Settle(_ context.Context, scope, id string, cs []Counter) (bool, []int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ok, alerts := settleTx(m.tx(scope), id, cs)
	return ok, alerts, nil
}

// Rewrite implements Counters.
func (m *Memory) Rewrite(_ context.Context, scope, id string, record []byte, also ...Write) (bool, error) {
	if len(also) > 0 {
		return false, errors.New("store: the memory counters keep no records")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tx(scope)
	v, ok := t.get(m.res, id)
	if ok {
		v.record = record
		m.res[scope+"\x00"+id] = v
	}
	return ok, nil
}

// Open implements Counters.
func (m *Memory) Open(_ context.Context, scope string) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tx(scope)
	var out []Entry
	for k := range m.res {
		if id, ok := cutScope(k, scope); ok {
			if v, live := t.get(m.res, id); live {
				out = append(out, Entry{Key: id, Value: v.record})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func cutScope(k, scope string) (string, bool) {
	if len(k) > len(scope) && k[:len(scope)] == scope && k[len(scope)] == 0 {
		return k[len(scope)+1:], true
	}
	return "", false
}

// Values implements Counters.
func (m *Memory) Values(_ context.Context, scope string, keys []string) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tx(scope)
	out := make([]int64, len(keys))
	for i, k := range keys {
		out[i] = t.value(k)
	}
	return out, nil
}
