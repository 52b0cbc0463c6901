package jobs

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/store"
)

func TestRegistry(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "qgov.db"))
	require.NoError(t, err)
	defer st.Close()
	reg := NewRegistry(st, "jobs")
	ctx := context.Background()
	created := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 1200; i++ { // more than one page of the store
		project := "ml"
		if i%3 == 0 {
			project = "finance"
		}
		require.NoError(t, reg.Add(ctx, Record{ID: fmt.Sprintf("j%04d", i), Instance: "QR-common", Tenant: "default", Project: project, Owner: "u", Created: created}))
	}
	require.NoError(t, reg.Add(ctx, Record{ID: "j0001", Instance: "QR-ml", Tenant: "default", Project: "ml", Owner: "fatima"}))

	rec, err := reg.Get(ctx, "QR-common", "j0003")
	require.NoError(t, err)
	assert.Equal(t, "finance", rec.Project)
	assert.Equal(t, created, rec.Created)
	rec, err = reg.Get(ctx, "QR-ml", "j0001")
	require.NoError(t, err)
	assert.Equal(t, "fatima", rec.Owner, "the same id on another instance is another object")
	_, err = reg.Get(ctx, "QR-finance", "j0001")
	assert.ErrorIs(t, err, ErrNotFound)

	finance, err := reg.Matching(ctx, "QR-common", func(r Record) bool { return r.Project == "finance" })
	require.NoError(t, err)
	assert.Len(t, finance, 400)
	assert.True(t, finance["j0003"])
	assert.False(t, finance["j0001"])

	require.NoError(t, reg.Remove(ctx, "QR-common", "j0003"))
	_, err = reg.Get(ctx, "QR-common", "j0003")
	assert.ErrorIs(t, err, ErrNotFound)
}

// countingStore counts the reads that reach the store.
type countingStore struct {
	store.Store
	gets int
}

func (c *countingStore) Get(ctx context.Context, bucket, key string) ([]byte, error) {
	c.gets++
	return c.Store.Get(ctx, bucket, key)
}

// TestCachedRecords checks the per-replica cache: a record written or
// read once is served without a store read; a record another replica
// removed is still served until Refresh finds it gone; a held job's
// record (which its release changes) is always read from the store; and
// the cache holds at most its size.
func TestCachedRecords(t *testing.T) {
	bolt, err := store.OpenBolt(filepath.Join(t.TempDir(), "qgov.db"))
	require.NoError(t, err)
	defer bolt.Close()
	st := &countingStore{Store: bolt}
	a, b := NewRegistry(st, "jobs"), NewRegistry(st, "jobs")
	ctx := context.Background()
	job := Record{ID: "j1", Instance: "QR-ml", Tenant: "default", Project: "ml", Owner: "fatima"}
	require.NoError(t, a.Add(ctx, job))

	for _, tc := range []struct {
		name  string
		reg   *Registry
		reads int
	}{
		{"the writer's replica reads none", a, 0},
		{"another replica reads it once", b, 1},
		{"and then none", b, 1},
	} {
		rec, err := tc.reg.Get(ctx, "QR-ml", "j1")
		require.NoError(t, err, tc.name)
		assert.Equal(t, "fatima", rec.Owner, tc.name)
		assert.Equal(t, tc.reads, st.gets, tc.name)
	}

	require.NoError(t, a.Remove(ctx, "QR-ml", "j1"))
	_, err = a.Get(ctx, "QR-ml", "j1")
	assert.ErrorIs(t, err, ErrNotFound, "removed here: gone at once")
	_, err = b.Get(ctx, "QR-ml", "j1")
	assert.NoError(t, err, "removed elsewhere: still cached")
	_, err = b.Refresh(ctx, "QR-ml", "j1")
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = b.Get(ctx, "QR-ml", "j1")
	assert.ErrorIs(t, err, ErrNotFound, "until refreshed")

	held := Record{ID: "h1", Instance: "QR-ml", Tenant: "default", Project: "ml", Owner: "fatima", Held: true}
	require.NoError(t, a.Add(ctx, held))
	before := st.gets
	for range 3 {
		_, err := a.Get(ctx, "QR-ml", "h1")
		require.NoError(t, err)
	}
	assert.Equal(t, before+3, st.gets, "a held job's record is read from the store each time")
	held.Upstream = "up-1"
	require.NoError(t, a.Add(ctx, held))
	_, err = a.Get(ctx, "QR-ml", "h1")
	require.NoError(t, err)
	assert.Equal(t, before+3, st.gets, "once released it is cached")

	small := NewRegistry(st, "jobs")
	small.cache.max = 10
	for i := range 25 {
		require.NoError(t, small.Add(ctx, Record{ID: fmt.Sprintf("s%d", i), Instance: "QR-ml", Owner: "u"}))
	}
	assert.Len(t, small.cache.recs, 10)
}

// TestUpdateNeverBringsBackARemovedRecord: two registries over one store
// stand for two replicas; one removes a job while the other updates what
// it read of it.
func TestUpdateNeverBringsBackARemovedRecord(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "qgov.db"))
	require.NoError(t, err)
	defer st.Close()
	a, b := NewRegistry(st, "jobs"), NewRegistry(st, "jobs")
	ctx := context.Background()
	require.NoError(t, a.Add(ctx, Record{ID: "j1", Instance: "QR-ml", Owner: "fatima", Quota: []byte(`{"id":"r1"}`)}))

	read, err := b.Get(ctx, "QR-ml", "j1")
	require.NoError(t, err)
	read.Quota = nil
	there, err := b.Update(ctx, read)
	require.NoError(t, err)
	assert.True(t, there)
	rec, err := a.Refresh(ctx, "QR-ml", "j1")
	require.NoError(t, err)
	assert.Empty(t, rec.Quota, "the update is stored")

	require.NoError(t, a.Remove(ctx, "QR-ml", "j1"))
	there, err = b.Update(ctx, read)
	require.NoError(t, err)
	assert.False(t, there)
	_, err = a.Refresh(ctx, "QR-ml", "j1")
	assert.ErrorIs(t, err, ErrNotFound, "the removed record stays removed")
	_, err = b.Get(ctx, "QR-ml", "j1")
	assert.ErrorIs(t, err, ErrNotFound, "and is not cached where it was updated")
}
