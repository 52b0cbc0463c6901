package ownership

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
