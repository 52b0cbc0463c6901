package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sweepInterval is how often expired records are removed from the file.
const sweepInterval = time.Minute

// Bolt is a Store in one bbolt file. Every write is in an fsynced
// transaction (which concurrent writes share), so an acknowledged write
// survives a crash. Each value is
// stored behind an 8-byte expiry (Unix nanoseconds, 0 for none).
type Bolt struct {
	db   *bolt.DB
	now  func() time.Time
	stop chan struct{}
	done chan struct{}
	// writes queue write transactions for commit, which closes
	// committed when it ends.
	writes    chan *write
	committed chan struct{}
	// closing guards closed against writes being queued.
	closing sync.RWMutex
	closed  bool
	// commits counts the transactions that committed writes.
	commits atomic.Uint64
}

// OpenBolt opens (creating if needed) the bbolt file at path. Another
// process holding the file makes it fail after a second instead of
// waiting forever.
func OpenBolt(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating store directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	b := &Bolt{db: db, now: time.Now, stop: make(chan struct{}), done: make(chan struct{}),
		writes: make(chan *write, maxGroup), committed: make(chan struct{})}
	go b.sweep()
	go b.commit()
	return b, nil
}

func (b *Bolt) expired(v []byte) bool {
	exp := int64(binary.BigEndian.Uint64(v[:8]))
	return exp != 0 && exp <= b.now().UnixNano()
}

func (b *Bolt) encode(value []byte, ttl time.Duration) []byte {
	out := make([]byte, 8+len(value))
	if ttl > 0 {
		binary.BigEndian.PutUint64(out, uint64(b.now().Add(ttl).UnixNano()))
	}
	copy(out[8:], value)
	return out
}

// Get implements Store.
func (b *Bolt) Get(_ context.Context, bucket, key string) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return ErrNotFound
		}
		v := bk.Get([]byte(key))
		if v == nil || b.expired(v) {
			return ErrNotFound
		}
		out = bytes.Clone(v[8:])
		return nil
	})
	return out, err
}

// Put implements Store.
func (b *Bolt) Put(_ context.Context, bucket, key string, value []byte, ttl time.Duration) error {
	if err := checkName(bucket); err != nil {
		return err
	}
	return b.update(func(tx *bolt.Tx) error { return b.put(tx, bucket, key, value, ttl) })
}

// put stores a record within tx.
func (b *Bolt) put(tx *bolt.Tx, bucket, key string, value []byte, ttl time.Duration) error {
	bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("creating bucket %s: %w", bucket, err)
	}
	return bk.Put([]byte(key), b.encode(value, ttl))
}

// Create implements Store.
func (b *Bolt) Create(_ context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkName(bucket); err != nil {
		return false, err
	}
	created := false
	err := b.update(func(tx *bolt.Tx) error {
		created = false
		bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return fmt.Errorf("creating bucket %s: %w", bucket, err)
		}
		if v := bk.Get([]byte(key)); v != nil && !b.expired(v) {
			return nil
		}
		created = true
		return bk.Put([]byte(key), b.encode(value, ttl))
	})
	return created && err == nil, err
}

// Replace implements Store.
func (b *Bolt) Replace(_ context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkName(bucket); err != nil {
		return false, err
	}
	replaced := false
	err := b.update(func(tx *bolt.Tx) error {
		replaced = false
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		if v := bk.Get([]byte(key)); v == nil || b.expired(v) {
			return nil
		}
		replaced = true
		return bk.Put([]byte(key), b.encode(value, ttl))
	})
	return replaced && err == nil, err
}

// CompareAndSwap implements Store in one transaction.
func (b *Bolt) CompareAndSwap(_ context.Context, bucket, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if err := checkName(bucket); err != nil {
		return false, err
	}
	swapped := false
	err := b.update(func(tx *bolt.Tx) error {
		swapped = false
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		if v := bk.Get([]byte(key)); v == nil || b.expired(v) || !bytes.Equal(v[8:], old) {
			return nil
		}
		swapped = true
		if value == nil {
			return bk.Delete([]byte(key))
		}
		return bk.Put([]byte(key), b.encode(value, ttl))
	})
	return swapped && err == nil, err
}

// Delete implements Store.
func (b *Bolt) Delete(_ context.Context, bucket, key string) error {
	return b.update(func(tx *bolt.Tx) error {
		if bk := tx.Bucket([]byte(bucket)); bk != nil {
			return bk.Delete([]byte(key))
		}
		return nil
	})
}

// List implements Store.
func (b *Bolt) List(_ context.Context, bucket, prefix, after string, limit int) ([]Entry, error) {
	var out []Entry
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		start := []byte(prefix)
		if after >= prefix {
			start = []byte(after)
		}
		k, v := c.Seek(start)
		if after != "" && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && bytes.HasPrefix(k, []byte(prefix)) && len(out) < limit; k, v = c.Next() {
			if !b.expired(v) {
				out = append(out, Entry{Key: string(k), Value: bytes.Clone(v[8:])})
			}
		}
		return nil
	})
	return out, err
}

// sweep removes expired records periodically until Close.
func (b *Bolt) sweep() {
	defer close(b.done)
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.update(func(tx *bolt.Tx) error {
				return tx.ForEach(func(_ []byte, bk *bolt.Bucket) error {
					c := bk.Cursor()
					for k, v := c.First(); k != nil; k, v = c.Next() {
						if b.expired(v) {
							if err := c.Delete(); err != nil {
								return err
							}
						}
					}
					return nil
				})
			})
		}
	}
}

// Commits reports how many transactions have committed writes since the
// file was opened (concurrent writes share one).
func (b *Bolt) Commits() uint64 { return b.commits.Load() }

// Close implements Store; closing again does nothing.
func (b *Bolt) Close() error {
	b.closing.Lock()
	was := b.closed
	b.closed = true
	b.closing.Unlock()
	if was {
		return nil
	}
	close(b.stop)
	<-b.done
	<-b.committed
	return b.db.Close()
}
