package store

import (
	"errors"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// ErrClosed is returned for a write to a closed store.
var ErrClosed = errors.New("store: closed")

// A bbolt commit is one fsync, the largest cost of a write. Concurrent
// writes share it: each write joins the queue, and one goroutine runs
// everything queued in one transaction, in the order it arrived, while
// the next writes queue behind it. A lone write waits for nobody.

// write is one queued write transaction's function and its answer.
type write struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// maxGroup bounds how many writes share one transaction.
const maxGroup = 256

// update runs fn in a write transaction it may share with concurrent
// writes (one commit, one fsync). fn must change only tx and set its
// results anew each time it runs: when another write of its group fails,
// the group is run again without that one.
func (b *Bolt) update(fn func(*bolt.Tx) error) error {
	w := &write{fn: fn, done: make(chan error, 1)}
	b.closing.RLock()
	if b.closed {
		b.closing.RUnlock()
		return ErrClosed
	}
	b.writes <- w // commit runs until Close has made closed true
	b.closing.RUnlock()
	return <-w.done
}

// commit runs queued writes in groups until Close, then those still
// queued (no write is queued once closed is true).
func (b *Bolt) commit() {
	defer close(b.committed)
	group := make([]*write, 0, maxGroup)
	for {
		select {
		case w := <-b.writes:
			group = append(group[:0], w)
		drain:
			for len(group) < maxGroup {
				select {
				case w := <-b.writes:
					group = append(group, w)
				default:
					break drain
				}
			}
			b.runGroup(group)
		case <-b.stop:
			for {
				select {
				case w := <-b.writes:
					b.runGroup([]*write{w})
				default:
					return
				}
			}
		}
	}
}

// runGroup commits a group in one transaction. A write that fails gets
// its error alone, and the others are committed again without it; a
// commit that fails fails every write of the group.
func (b *Bolt) runGroup(group []*write) {
	for len(group) > 0 {
		failed := -1
		err := b.db.Update(func(tx *bolt.Tx) error {
			for i, w := range group {
				if err := w.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			b.commits.Add(1)
			for _, w := range group {
				w.done <- err
			}
			return
		}
		if len(group) == 1 {
			group[0].done <- err
			return
		}
		group[failed].done <- b.db.Update(group[failed].fn)
		group = slices.Delete(group, failed, failed+1)
	}
}
