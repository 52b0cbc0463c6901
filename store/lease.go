package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// leasesBucket holds leases: which node does a singleton job.
const leasesBucket = "leases"

// Lease takes or renews the lease name for holder for ttl, reporting
// whether holder has it. Of several nodes calling it, one holds the lease
// until it stops renewing and the lease expires.
func Lease(ctx context.Context, st Store, name, holder string, ttl time.Duration) (bool, error) {
	ok, err := st.Create(ctx, leasesBucket, name, []byte(holder), ttl)
	if err != nil || ok {
		return ok, err
	}
	cur, err := st.Get(ctx, leasesBucket, name)
	switch {
	case errors.Is(err, ErrNotFound):
		return st.Create(ctx, leasesBucket, name, []byte(holder), ttl)
	case err != nil:
		return false, fmt.Errorf("reading lease %s: %w", name, err)
	case string(cur) != holder:
		return false, nil
	}
	if err := st.Put(ctx, leasesBucket, name, []byte(holder), ttl); err != nil {
		return false, fmt.Errorf("renewing lease %s: %w", name, err)
	}
	return true, nil
}
