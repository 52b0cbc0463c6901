package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// countersBucket holds every scope's counters, markers and reservations,
// keyed "<scope>\x00c\x00<key>" and "<scope>\x00r\x00<id>".
const countersBucket = "counters"

// boltTx is a counterTx over one bbolt write transaction.
type boltTx struct {
	b     *Bolt
	bk    *bolt.Bucket
	scope string
	err   error
}

func (t *boltTx) key(kind, name string) []byte {
	return []byte(t.scope + "\x00" + kind + "\x00" + name)
}

func (t *boltTx) live(k []byte) []byte {
	v := t.bk.Get(k)
	if v == nil || t.b.expired(v) {
		return nil
	}
	return v[8:]
}

func (t *boltTx) put(k, v []byte, ttl time.Duration) {
	if err := t.bk.Put(k, t.b.encode(v, ttl)); err != nil && t.err == nil {
		t.err = err
	}
}

func (t *boltTx) value(key string) int64 {
	v := t.live(t.key("c", key))
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func (t *boltTx) exists(key string) bool { return t.live(t.key("c", key)) != nil }

func (t *boltTx) setValue(key string, v int64, ttl time.Duration) {
	k := t.key("c", key)
	if ttl == 0 {
		if old := t.bk.Get(k); old != nil && !t.b.expired(old) {
			// keep the counter's expiry
			out := bytes.Clone(old)
			binary.BigEndian.PutUint64(out[8:], uint64(v))
			if err := t.bk.Put(k, out); err != nil && t.err == nil {
				t.err = err
			}
			return
		}
	}
	t.put(k, binary.BigEndian.AppendUint64(nil, uint64(v)), ttl)
}

func (t *boltTx) mark(key string, ttl time.Duration) bool {
	if t.exists(key) {
		return false
	}
	t.setValue(key, 1, ttl)
	return true
}

func (t *boltTx) reserved(id string) bool { return t.live(t.key("r", id)) != nil }

func (t *boltTx) putReservation(id string, record []byte, ttl time.Duration) {
	t.put(t.key("r", id), record, ttl)
}

func (t *boltTx) deleteReservation(id string) {
	if err := t.bk.Delete(t.key("r", id)); err != nil && t.err == nil {
		t.err = err
	}
}

// counterTx runs fn in one write transaction over a scope.
func (b *Bolt) counterTx(scope string, fn func(*boltTx)) error {
	return b.update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(countersBucket))
		if err != nil {
			return fmt.Errorf("creating bucket %s: %w", countersBucket, err)
		}
		t := &boltTx{b: b, bk: bk, scope: scope}
		fn(t)
		return t.err
	})
}

// Admit implements Counters in one bbolt transaction.
func (b *Bolt) Admit(_ context.Context, scope string, a Admission, cs []Counter) (Verdict, error) {
	var v Verdict
	err := b.counterTx(scope, func(t *boltTx) { v = admitTx(t, a, cs) })
	return v, err
}

// Settle implements Counters.
func (b *Bolt) Settle(_ context.Context, scope, id string, cs []Counter) (bool, []int, error) {
	var ok bool
	var alerts []int
	err := b.counterTx(scope, func(t *boltTx) { ok, alerts = settleTx(t, id, cs) })
	return ok, alerts, err
}

// Rewrite implements Counters in one bbolt transaction.
func (b *Bolt) Rewrite(_ context.Context, scope, id string, record []byte, also ...Write) (bool, error) {
	for _, w := range also {
		if err := checkName(w.Bucket); err != nil {
			return false, err
		}
	}
	ok := false
	err := b.update(func(tx *bolt.Tx) error {
		ok = false
		for _, w := range also {
			if err := b.put(tx, w.Bucket, w.Key, w.Value, 0); err != nil {
				return err
			}
		}
		bk, err := tx.CreateBucketIfNotExists([]byte(countersBucket))
		if err != nil {
			return fmt.Errorf("creating bucket %s: %w", countersBucket, err)
		}
		k := []byte(scope + "\x00r\x00" + id)
		if old := bk.Get(k); old != nil && !b.expired(old) {
			ok = true
			return bk.Put(k, append(bytes.Clone(old[:8]), record...))
		}
		return nil
	})
	return ok, err
}

// Open implements Counters.
func (b *Bolt) Open(_ context.Context, scope string) ([]Entry, error) {
	prefix := []byte(scope + "\x00r\x00")
	var out []Entry
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(countersBucket))
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if !b.expired(v) {
				out = append(out, Entry{Key: string(k[len(prefix):]), Value: bytes.Clone(v[8:])})
			}
		}
		return nil
	})
	return out, err
}

// Values implements Counters.
func (b *Bolt) Values(_ context.Context, scope string, keys []string) ([]int64, error) {
	out := make([]int64, len(keys))
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(countersBucket))
		if bk == nil {
			return nil
		}
		t := &boltTx{b: b, bk: bk, scope: scope}
		for i, k := range keys {
			out[i] = t.value(k)
		}
		return nil
	})
	return out, err
}
