package jobs

import "sync"

// DefaultCacheSize is how many records a Registry keeps in memory.
const DefaultCacheSize = 100_000

// cache keeps records this replica has read or written, so that a client
// polling its job costs no store round trip. An owner never changes, so
// a cached record stays right for every access check; what may change
// elsewhere (a reservation settled, the record removed by another
// replica) is harmless to read stale, and Refresh reads the store again
// when the upstream no longer knows the object. A record held for
// approval and not yet released changes when it is released: it is never
// cached. When full, an arbitrary entry makes room.
type cache struct {
	mu   sync.RWMutex
	max  int
	recs map[string]Record
}

func (c *cache) get(k string) (Record, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	rec, ok := c.recs[k]
	return rec, ok
}

func (c *cache) put(k string, rec Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec.Held && rec.Upstream == "" {
		delete(c.recs, k)
		return
	}
	if _, ok := c.recs[k]; !ok && len(c.recs) >= c.max {
		for old := range c.recs { // map order is random: a random victim
			delete(c.recs, old)
			break
		}
	}
	c.recs[k] = rec
}

func (c *cache) drop(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.recs, k)
}
