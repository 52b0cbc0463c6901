// Package store keeps qgov's durable state (job ownership, signing keys,
// and what later layers add) behind one small interface with two
// implementations: an embedded bbolt file for a single node, and Redis
// (standalone, Sentinel or Cluster) for replicas that share state.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Get for a key that is absent or expired.
var ErrNotFound = errors.New("store: not found")

// Store is a key-value store of records grouped in buckets. Keys sort
// bytewise within a bucket. A ttl of zero keeps a record until deleted.
type Store interface {
	// Get returns a record's value, or ErrNotFound.
	Get(ctx context.Context, bucket, key string) ([]byte, error)
	// Put stores a record, replacing any previous value.
	Put(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) error
	// Create stores a record only when its key is absent, and reports
	// whether it did: of several concurrent creators exactly one wins.
	Create(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error)
	// Replace stores a record only when its key is present, and reports
	// whether it did: an update never brings back a record another
	// writer deleted.
	Replace(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error)
	// CompareAndSwap stores value in place of a record only while the
	// record holds old, and reports whether it did; a nil value deletes
	// the record instead. An absent or expired record holds nothing, so
	// it never matches.
	CompareAndSwap(ctx context.Context, bucket, key string, old, value []byte, ttl time.Duration) (bool, error)
	// Delete removes a record; deleting an absent key is not an error.
	Delete(ctx context.Context, bucket, key string) error
	// List returns, in key order, up to limit records whose keys start
	// with prefix and sort after the key after ("" to start at the
	// beginning); pass the last key returned to read the next page.
	List(ctx context.Context, bucket, prefix, after string, limit int) ([]Entry, error)
	// Close releases the store's resources.
	Close() error
}

// Write is a record (kept until deleted) stored in the same step as a
// change of the counters (Counters.Rewrite).
type Write struct {
	Bucket, Key string
	Value       []byte
}

// Entry is one record returned by List.
type Entry struct {
	Key   string
	Value []byte
}

// checkName rejects bucket names the implementations cannot hold.
func checkName(bucket string) error {
	if bucket == "" {
		return errors.New("store: empty bucket name")
	}
	for _, c := range bucket {
		if c == '{' || c == '}' || c == ':' {
			return errors.New("store: bucket names may not contain '{', '}' or ':'")
		}
	}
	return nil
}
