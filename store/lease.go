package store

import (
	"context"
	"fmt"
	"time"
)

// leasesBucket holds leases: which node does a singleton job.
const leasesBucket = "leases"

// Lease takes or renews the lease name for holder for ttl, reporting
// whether holder has it. Each step is atomic in the store: a free lease
// is taken only if still free, and a held one renewed only while it is
// still holder's, so of several nodes calling it exactly one holds the
// lease, until it stops renewing and the lease expires or is released.
func Lease(ctx context.Context, st Store, name, holder string, ttl time.Duration) (bool, error) {
	ok, err := st.Create(ctx, leasesBucket, name, []byte(holder), ttl)
	if err != nil || ok {
		return ok, err
	}
	ok, err = st.CompareAndSwap(ctx, leasesBucket, name, []byte(holder), []byte(holder), ttl)
	if err != nil {
		return false, fmt.Errorf("renewing lease %s: %w", name, err)
	}
	return ok, nil
}

// Release gives up the lease name if holder has it, so that another node
// need not wait for it to expire.
func Release(ctx context.Context, st Store, name, holder string) error {
	if _, err := st.CompareAndSwap(ctx, leasesBucket, name, []byte(holder), nil, 0); err != nil {
		return fmt.Errorf("releasing lease %s: %w", name, err)
	}
	return nil
}
