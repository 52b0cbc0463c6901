package identity

import (
	"sync"
	"time"
)

// maxCached bounds each cache; a full cache is emptied, so entries are
// rebuilt from their source rather than kept without bound.
const maxCached = 10000

// recordTTL is how long records read from the store (API keys, sessions,
// users) are trusted before they are read again: a revocation reaches
// every replica within this time.
const recordTTL = 5 * time.Second

// cache is a bounded map of values that expire.
type cache[V any] struct {
	mu sync.RWMutex
	m  map[string]cached[V]
}

type cached[V any] struct {
	v     V
	until time.Time
}

func (c *cache[V]) get(k string, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || now.After(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *cache[V]) put(k string, v V, until time.Time) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = map[string]cached[V]{}
	}
	c.m[k] = cached[V]{v: v, until: until}
	c.mu.Unlock()
}

func (c *cache[V]) drop(k string) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}
