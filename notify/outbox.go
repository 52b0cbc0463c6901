package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/qgov/qgov/store"
)

// Outbox keeps the deliveries not yet made, so that a restart or a
// crash loses none: qgov's store, whose bucket every replica shares.
type Outbox interface {
	Create(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) (bool, error)
	CompareAndSwap(ctx context.Context, bucket, key string, old, value []byte, ttl time.Duration) (bool, error)
	List(ctx context.Context, bucket, prefix, after string, limit int) ([]store.Entry, error)
}

// outboxBucket holds one record per message and channel until the
// channel takes it or its last try fails.
const outboxBucket = "outbox"

// storeWait bounds each outbox read or write.
const storeWait = 5 * time.Second

// pending is an outbox record: a message for one channel, the tries
// made, when the next is due, and which notifier holds it while a try
// is under way. A claim lapses at Until, or sooner once its holder's
// node no longer runs, and any notifier then takes the record.
type pending struct {
	Channel string    `json:"channel"`
	Message Message   `json:"message"`
	Tries   int       `json:"tries"`
	Due     time.Time `json:"due"`
	Holder  string    `json:"holder,omitempty"`
	Node    string    `json:"node,omitempty"`
	Until   time.Time `json:"until,omitzero"`
	// Error is the last try's failure.
	Error string `json:"error,omitempty"`
	// Trace is the traceparent of the message's sending, when it was
	// sent by a traced request: each try is a span of that trace.
	Trace string `json:"trace,omitempty"`
}

// pendingKey orders records by when their message was sent.
func pendingKey(m Message, channel string) string {
	return fmt.Sprintf("%016x/%s/%s", m.Time.UnixNano(), m.ID, channel)
}

// Liveness tells which replicas run (store.Nodes).
type Liveness interface {
	Alive(ctx context.Context, node string) (bool, error)
}

// claimable reports whether a notifier may take the record now: it is
// due, and free, or its claim lapsed, or its holder's node stopped.
func (n *Notifier) claimable(ctx context.Context, p pending, now time.Time, stopped map[string]bool) bool {
	switch {
	case p.Due.After(now):
		return false
	case p.Holder == "" || !p.Until.After(now):
		return true
	case n.opts.Nodes == nil || p.Node == "" || p.Node == n.opts.Holder:
		return false
	}
	dead, known := stopped[p.Node]
	if !known {
		ctx, cancel := context.WithTimeout(ctx, storeWait)
		alive, err := n.opts.Nodes.Alive(ctx, p.Node)
		cancel()
		dead = err == nil && !alive
		stopped[p.Node] = dead
	}
	return dead
}

// enqueue writes a message's record for a channel.
func (n *Notifier) enqueue(ctx context.Context, channel string, m Message, traceparent string) error {
	v, err := json.Marshal(pending{Channel: channel, Message: m, Due: m.Time, Trace: traceparent})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, storeWait)
	defer cancel()
	if _, err := n.outbox.Create(ctx, outboxBucket, pendingKey(m, channel), v, 0); err != nil {
		return fmt.Errorf("keeping the message in the outbox: %w", err)
	}
	return nil
}

// claim is a record this notifier holds: the value it stored, which
// the next change must find.
type claim struct {
	key   string
	value []byte
	p     pending
}

// forgetAfter is how old a message for a channel this notifier does not
// know may grow before it is given up: another replica, with a newer or
// older configuration, may know the channel meanwhile.
const forgetAfter = time.Hour

// sweep reads the outbox and starts a try of each record due and free,
// as far as the limits on tries under way allow, counting the records.
// It returns when the earliest record not yet claimable becomes so
// (zero when none).
func (n *Notifier) sweep(ctx context.Context) (next time.Time) {
	after, depth, stopped, full := "", 0, map[string]bool{}, false
	n.starved.Store(false)
	for {
		lctx, cancel := context.WithTimeout(ctx, storeWait)
		page, err := n.outbox.List(lctx, outboxBucket, "", after, 256)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				n.opts.Logger.Warn("reading the notification outbox", "error", err)
			}
			return time.Now().Add(n.opts.Poll)
		}
		depth += len(page)
		for _, e := range page {
			after = e.Key
			var p pending
			if err := json.Unmarshal(e.Value, &p); err != nil {
				n.discard(ctx, e, err)
				continue
			}
			now := time.Now()
			if n.channels[p.Channel] == nil && now.Sub(p.Message.Time) < forgetAfter {
				continue // a channel of another configuration
			}
			if !n.claimable(ctx, p, now, stopped) {
				at := p.Due
				if p.Holder != "" && p.Until.After(at) {
					at = p.Until
				}
				if next.IsZero() || at.Before(next) {
					next = at
				}
				continue
			}
			if full { // counting on
				continue
			}
			var room bool
			if full, room = n.reserve(p.Channel); !room {
				n.starved.Store(true) // a try that ends makes room: it wakes the loop
				continue
			}
			c, ok := n.take(ctx, e, p)
			if !ok {
				n.release(p.Channel)
				continue
			}
			n.tries.Add(1)
			go func() {
				defer func() {
					n.release(c.p.Channel)
					n.tries.Done()
					if n.starved.Load() {
						n.wake()
					}
				}()
				n.try(c)
			}()
		}
		if len(page) < 256 {
			n.stats.Pending.Store(int64(depth))
			return next
		}
	}
}

// reserve takes room for a try of a channel: full when the notifier has
// no room for any try, room when it has for this one.
func (n *Notifier) reserve(channel string) (full, room bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.inFlight >= parallel:
		return true, false
	case n.busy[channel] >= perChannel:
		return false, false
	}
	n.inFlight++
	n.busy[channel]++
	return false, true
}

// release gives back the room of a try.
func (n *Notifier) release(channel string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.inFlight--
	n.busy[channel]--
}

// discard removes a record that cannot be read, reporting its message
// as failed under the channel its key names; a report that fails is made
// again after the last retry's wait.
func (n *Notifier) discard(ctx context.Context, e store.Entry, err error) {
	n.mu.Lock()
	again, known := n.unreadable[e.Key]
	n.mu.Unlock()
	if known && time.Now().Before(again) {
		return
	}
	parts := strings.SplitN(e.Key, "/", 3)
	channel := parts[len(parts)-1]
	m := Message{Event: "unknown", ID: parts[min(1, len(parts)-1)]}
	if n.failed(channel, m, fmt.Errorf("its outbox record cannot be read: %w", err)) != nil {
		n.mu.Lock()
		n.unreadable[e.Key] = time.Now().Add(n.lastWait())
		n.mu.Unlock()
		return
	}
	n.mu.Lock()
	delete(n.unreadable, e.Key)
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, storeWait)
	defer cancel()
	if _, err := n.outbox.CompareAndSwap(ctx, outboxBucket, e.Key, e.Value, nil, 0); err != nil {
		n.opts.Logger.Warn("removing an unreadable notification", "key", e.Key, "error", err)
	}
}

// take claims a record for one try; another notifier may win it.
func (n *Notifier) take(ctx context.Context, e store.Entry, p pending) (claim, bool) {
	p.Holder, p.Node, p.Until = n.holder, n.opts.Holder, time.Now().Add(claimFor)
	v, err := json.Marshal(p)
	if err != nil {
		return claim{}, false
	}
	cctx, cancel := context.WithTimeout(ctx, storeWait)
	defer cancel()
	won, err := n.outbox.CompareAndSwap(cctx, outboxBucket, e.Key, e.Value, v, 0)
	if err != nil {
		// the claim may have been made with its answer lost: undo it, so
		// that the record is not held for claimFor with no try under way
		n.opts.Logger.Warn("claiming a notification", "error", err)
		free := p
		free.Holder, free.Node, free.Until = "", "", time.Time{}
		n.settle(claim{e.Key, v, p}, &free)
	}
	return claim{e.Key, v, p}, won && err == nil
}

// claimFor is how long a claim lasts: past the longest try (a mail's
// minute), so that only a notifier that died loses its claims, sooner
// when Options.Nodes tells that its replica stopped.
const claimFor = 2 * time.Minute

// try sends a claimed record once, then removes it, or schedules its
// next try, or, after the last, reports it failed and removes it.
func (n *Notifier) try(c claim) {
	s := n.channels[c.p.Channel]
	var err error
	if s == nil {
		err = fmt.Errorf("no replica knew the channel for %s", forgetAfter)
		c.p.Tries = len(n.opts.Retries)
	} else {
		if c.p.Tries > 0 {
			n.stats.Retried.Add(1)
		}
		ctx, end := n.trying(c.p)
		err = s.send(ctx, c.p.Message)
		end(err)
	}
	next := c.p
	next.Holder, next.Node, next.Until = "", "", time.Time{}
	switch {
	case err == nil:
		n.settle(c, nil)
		n.stats.Delivered.Add(1)
	case n.tryCtx.Err() != nil: // closing: the try does not count, and the record is free at once
		n.settle(c, &next)
	case c.p.Tries >= len(n.opts.Retries):
		// reported before it is removed: a crash between repeats the
		// report, never loses it; a report that fails keeps the message
		if rerr := n.failed(c.p.Channel, c.p.Message, err); rerr != nil {
			next.Due, next.Error = time.Now().Add(jitter(n.lastWait())), err.Error()
			n.settle(c, &next)
			return
		}
		n.settle(c, nil)
	default:
		next.Tries++
		next.Due = time.Now().Add(jitter(n.opts.Retries[c.p.Tries]))
		next.Error = err.Error()
		n.settle(c, &next)
	}
}

// lastWait is the wait before the last retry, or Poll without retries.
func (n *Notifier) lastWait() time.Duration {
	if len(n.opts.Retries) == 0 {
		return n.opts.Poll
	}
	return n.opts.Retries[len(n.opts.Retries)-1]
}

// settle replaces a claimed record with next, or removes it (nil), if
// the claim still holds it.
func (n *Notifier) settle(c claim, next *pending) {
	var v []byte
	if next != nil {
		var err error
		if v, err = json.Marshal(next); err != nil {
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeWait)
	defer cancel()
	if won, err := n.outbox.CompareAndSwap(ctx, outboxBucket, c.key, c.value, v, 0); err != nil || !won {
		// The claim lapsed or the store failed: the record stays, and a
		// notifier tries it again under the same message id.
		n.opts.Logger.Warn("settling a notification", "channel", c.p.Channel, "event", c.p.Message.Event, "lapsed", !won, "error", err)
	}
}
