// Package jobs is the job ledger: who owns each job and session created
// through qgov, the user, tenant, project and instance behind each id.
// The gateway consults it to decide who may see or act on them.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/qgov/qgov/store"
)

// ErrNotFound is returned for an id with no record.
var ErrNotFound = errors.New("no ownership record")

// Record is the owner of one job or session.
type Record struct {
	ID       string    `json:"id"`
	Instance string    `json:"instance"`
	Tenant   string    `json:"tenant"`
	Project  string    `json:"project"`
	Owner    string    `json:"owner"`
	KeyID    string    `json:"key_id,omitempty"`
	Backend  string    `json:"backend,omitempty"`
	Program  string    `json:"program,omitempty"`
	Session  string    `json:"session_id,omitempty"`
	Created  time.Time `json:"created"`
	// Quota is the job's open quota reservation, settled when the gateway
	// sees the job end.
	Quota json.RawMessage `json:"quota,omitempty"`
	// Held marks a job held for approval; ID is then the id the gateway
	// gave the client, and Upstream, once it is released, the upstream's
	// id of the same job.
	Held     bool   `json:"held,omitempty"`
	Upstream string `json:"upstream,omitempty"`
}

// Registry keeps records in one bucket of a store, keyed by instance and
// id (the same id on two instances names two objects), and the records
// it has seen in a bounded cache.
type Registry struct {
	store  store.Store
	bucket string
	cache  cache
}

// NewRegistry returns a registry over bucket of s.
func NewRegistry(s store.Store, bucket string) *Registry {
	return &Registry{store: s, bucket: bucket, cache: cache{max: DefaultCacheSize, recs: map[string]Record{}}}
}

// Store is the store the registry keeps its records in.
func (g *Registry) Store() store.Store { return g.store }

func key(instance, id string) string { return instance + "/" + id }

// Add stores a record.
func (g *Registry) Add(ctx context.Context, rec Record) error {
	return g.AddWith(ctx, rec, func(ctx context.Context, w store.Write) error {
		return g.store.Put(ctx, w.Bucket, w.Key, w.Value, 0)
	})
}

// AddWith stores a record through write, which stores it with other
// changes in one step (a job's record with its reservation's binding),
// and caches it once stored.
func (g *Registry) AddWith(ctx context.Context, rec Record, write func(context.Context, store.Write) error) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding ownership of %s: %w", rec.ID, err)
	}
	k := key(rec.Instance, rec.ID)
	if err := write(ctx, store.Write{Bucket: g.bucket, Key: k, Value: data}); err != nil {
		g.cache.drop(k)
		return fmt.Errorf("recording ownership of %s: %w", rec.ID, err)
	}
	g.cache.put(k, rec)
	return nil
}

// Update stores a changed record, such as one whose reservation was
// settled, only if it is still there: writing back what was read must
// not bring back a record another replica removed meanwhile. It reports
// whether the record was there.
func (g *Registry) Update(ctx context.Context, rec Record) (bool, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return false, fmt.Errorf("encoding ownership of %s: %w", rec.ID, err)
	}
	k := key(rec.Instance, rec.ID)
	there, err := g.store.Replace(ctx, g.bucket, k, data, 0)
	switch {
	case err != nil:
		g.cache.drop(k)
		return false, fmt.Errorf("updating ownership of %s: %w", rec.ID, err)
	case there:
		g.cache.put(k, rec)
	default:
		g.cache.drop(k)
	}
	return there, nil
}

// Get returns the record of id on an instance, or ErrNotFound: from the
// cache when this replica has seen it, else from the store.
func (g *Registry) Get(ctx context.Context, instance, id string) (Record, error) {
	if rec, ok := g.cache.get(key(instance, id)); ok {
		return rec, nil
	}
	return g.Refresh(ctx, instance, id)
}

// Refresh reads the record of id on an instance from the store, as
// another replica may have changed or removed it, and caches what it
// finds.
func (g *Registry) Refresh(ctx context.Context, instance, id string) (Record, error) {
	k := key(instance, id)
	data, err := g.store.Get(ctx, g.bucket, k)
	if errors.Is(err, store.ErrNotFound) {
		g.cache.drop(k)
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, fmt.Errorf("reading ownership of %s: %w", id, err)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return Record{}, fmt.Errorf("decoding ownership of %s: %w", id, err)
	}
	g.cache.put(k, rec)
	return rec, nil
}

// Remove deletes the record of id on an instance.
func (g *Registry) Remove(ctx context.Context, instance, id string) error {
	k := key(instance, id)
	g.cache.drop(k)
	if err := g.store.Delete(ctx, g.bucket, k); err != nil {
		return fmt.Errorf("removing ownership of %s: %w", id, err)
	}
	return nil
}

// listPage is how many records one store read returns.
const listPage = 500

// Matching returns the ids of an instance's records that keep accepts.
func (g *Registry) Matching(ctx context.Context, instance string, keep func(Record) bool) (map[string]bool, error) {
	out := map[string]bool{}
	prefix, after := instance+"/", ""
	for {
		page, err := g.store.List(ctx, g.bucket, prefix, after, listPage)
		if err != nil {
			return nil, fmt.Errorf("listing ownership on %s: %w", instance, err)
		}
		for _, e := range page {
			var rec Record
			if err := json.Unmarshal(e.Value, &rec); err != nil {
				return nil, fmt.Errorf("decoding ownership %s: %w", e.Key, err)
			}
			if keep(rec) {
				out[rec.ID] = true
			}
		}
		if len(page) < listPage {
			return out, nil
		}
		after = page[len(page)-1].Key
	}
}
