package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Nodes tracks which replicas are running: each beats while it runs, and
// one that has not beaten within its TTL has stopped. What a stopped
// replica left unfinished (a forward in flight, say) is finished by
// another.
type Nodes struct {
	Store Store
	// TTL is how long a beat counts; beat more often than that.
	TTL time.Duration
}

// nodeKey is a node's beat in the leases bucket.
func nodeKey(node string) string { return "node/" + node }

// Beat records that node is running, for TTL.
func (n Nodes) Beat(ctx context.Context, node string) error {
	if err := n.Store.Put(ctx, leasesBucket, nodeKey(node), []byte(time.Now().UTC().Format(time.RFC3339Nano)), n.TTL); err != nil {
		return fmt.Errorf("recording that node %s runs: %w", node, err)
	}
	return nil
}

// Alive reports whether node has beaten within its TTL.
func (n Nodes) Alive(ctx context.Context, node string) (bool, error) {
	_, err := n.Store.Get(ctx, leasesBucket, nodeKey(node))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("reading whether node %s runs: %w", node, err)
}
