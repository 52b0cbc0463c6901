package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Sink receives sealed records after the file has them: a Redis Stream,
// the server log. A batch is retried until Write succeeds.
type Sink interface {
	// Name names the sink in logs and metrics.
	Name() string
	Write(ctx context.Context, batch []Sealed) error
}

// Sealed is a record as it was written: the record (with its sequence
// number and hash) and its line.
type Sealed struct {
	Record *Record
	// Line is the record's JSON line without the newline.
	Line []byte
}

// Options configure a Log.
type Options struct {
	// QueueSize bounds the records reserved, queued and being written.
	// Default 8192.
	QueueSize int
	// BlockTimeout is how long a request waits for room in a full queue
	// before it is refused. Default 2s.
	BlockTimeout time.Duration
	// CommitTimeout bounds how long Commit waits for an awaited record's
	// durability while a sink is failing. Default 10s.
	CommitTimeout time.Duration
	// SyncInterval is how often written records not yet fsynced are
	// (under FsyncDecisions and FsyncInterval). Default 1s.
	SyncInterval time.Duration
	// FoldReads folds identical reads (Record.ReadOnly: the same caller,
	// object and answer; none with a note) made within this window into
	// one record with their count and last time, which keeps the first
	// read's trace id, unless every read is awaited (FsyncAlways). At most
	// QueueSize folds are open. Default DefaultFoldReads; negative folds
	// none.
	FoldReads time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
}

// Errors of Reserve.
var (
	ErrQueueFull = errors.New("the audit queue is full")
	ErrClosed    = errors.New("the audit log is closed")
)

// Log is the audit trail's writer. Requests reserve room in its bounded
// queue before they act and commit their record afterwards; one goroutine
// seals queued records into the chain in batches and hands each batch to
// the file and then to the other sinks, retrying until all have it.
// A record is released from the queue only once every sink has it, so a
// failing sink fills the queue and requests are refused: the trail fails
// closed, never silently.
type Log struct {
	file   *FileSink
	sinks  atomic.Pointer[[]Sink]
	opts   Options
	policy Fsync
	folds  *folds // nil: none

	slots chan struct{}
	in    chan *entry
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once

	mu     sync.RWMutex // guards closed against reservations
	closed bool

	stats Stats
}

// Stats are the Log's counters.
type Stats struct {
	// Written counts records every sink has.
	Written atomic.Uint64
	// Delayed counts reservations that waited for room.
	Delayed atomic.Uint64
	// Refused counts reservations refused after BlockTimeout.
	Refused atomic.Uint64
	// SinkErrors counts failed batch writes, retried.
	SinkErrors atomic.Uint64
}

type entry struct {
	rec  *Record
	done chan struct{} // closed once every sink has the record
	// folded marks a fold of reads, which holds no room in the queue
	folded bool
}

// New starts a Log over an open file sink and further sinks.
func New(file *FileSink, sinks []Sink, opts Options) *Log {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.BlockTimeout <= 0 {
		opts.BlockTimeout = 2 * time.Second
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = 10 * time.Second
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FoldReads == 0 {
		opts.FoldReads = DefaultFoldReads
	}
	l := &Log{file: file, opts: opts, policy: file.cfg.Fsync,
		slots: make(chan struct{}, opts.QueueSize), in: make(chan *entry, opts.QueueSize),
		quit: make(chan struct{}), done: make(chan struct{})}
	if opts.FoldReads > 0 && l.policy != FsyncAlways {
		l.folds = newFolds(opts.FoldReads, opts.QueueSize)
	}
	l.SetSinks(sinks)
	go l.run()
	if file.Recovery() != "" {
		if t, err := l.Reserve(context.Background()); err == nil {
			t.Commit(&Record{Category: CategorySystem, Action: ActionRecovered, Outcome: Success, Note: file.Recovery()})
		}
	}
	return l
}

// SetSinks replaces the sinks after the file, from the next batch on (a
// config reload may change them while the file stays open).
func (l *Log) SetSinks(sinks []Sink) { l.sinks.Store(&sinks) }

// Stats returns the Log's counters.
func (l *Log) Stats() *Stats { return &l.stats }

// Depth is the number of records reserved, queued or being written.
func (l *Log) Depth() int { return len(l.slots) }

// Ticket is room reserved in the queue for one record.
type Ticket struct {
	l    *Log
	used atomic.Bool
}

// Reserve takes room for one record. When the queue is full it waits up
// to BlockTimeout (or ctx), then fails with ErrQueueFull; the caller must
// then refuse the request.
func (l *Log) Reserve(ctx context.Context) (*Ticket, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	select {
	case l.slots <- struct{}{}:
		return &Ticket{l: l}, nil
	default:
	}
	l.stats.Delayed.Add(1)
	timer := time.NewTimer(l.opts.BlockTimeout)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
		return &Ticket{l: l}, nil
	case <-timer.C:
	case <-ctx.Done():
	}
	l.stats.Refused.Add(1)
	return nil, fmt.Errorf("%w: %d records wait for the audit sinks", ErrQueueFull, l.opts.QueueSize)
}

// Commit queues the record in the reserved room, filling in its id and
// time when unset. For a record the policy awaits (Fsync.Awaits) it
// returns once the record is on stable storage and every sink has it, or
// with an error after CommitTimeout while a sink is failing (the record
// stays queued and is still written); any other record returns at once.
// A ticket commits once; later calls do nothing.
func (t *Ticket) Commit(rec *Record) error {
	if t == nil || t.used.Swap(true) {
		return nil
	}
	if rec.Timestamp.IsZero() {
		rec.Timestamp = t.l.opts.Now().UTC()
	}
	if rec.AuditID == "" {
		rec.AuditID = NewID(rec.Timestamp)
	}
	if rec.Category == "" {
		rec.Category = CategoryOf(rec.Action)
	}
	e := &entry{rec: rec}
	if t.l.policy.Awaits(rec) {
		e.done = make(chan struct{})
	} else if t.l.folds != nil && rec.ReadOnly() && t.l.folds.add(e) {
		<-t.l.slots // in a fold, which holds no room
		return nil
	}
	t.l.in <- e // room was reserved: never blocks
	if e.done == nil {
		return nil
	}
	timer := time.NewTimer(t.l.opts.CommitTimeout)
	defer timer.Stop()
	select {
	case <-e.done:
		return nil
	case <-timer.C:
		return fmt.Errorf("audit record %s is not yet durable: a sink is failing", rec.AuditID)
	}
}

// Release gives the room back when no record will be committed.
func (t *Ticket) Release() {
	if t != nil && !t.used.Swap(true) {
		<-t.l.slots
	}
}

// NewID returns an audit id in IBM's enterprise-governance form, audit-<yyyymmdd>-<hex>.
func NewID(t time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "audit-" + t.UTC().Format("20060102") + "-" + hex.EncodeToString(b[:])
}

// maxBatch bounds how many records share one write and fsync.
const maxBatch = 1024

// run seals and writes queued records until Close.
func (l *Log) run() {
	defer close(l.done)
	tick := time.NewTicker(l.opts.SyncInterval)
	defer tick.Stop()
	var foldTick <-chan time.Time
	if l.folds != nil {
		t := time.NewTicker(max(l.folds.window/4, 10*time.Millisecond))
		defer t.Stop()
		foldTick = t.C
	}
	batch := make([]*entry, 0, maxBatch)
	for {
		select {
		case e := <-l.in:
			batch = append(batch[:0], e)
		drain:
			for len(batch) < maxBatch {
				select {
				case e := <-l.in:
					batch = append(batch, e)
				default:
					break drain
				}
			}
			l.write(batch)
		case <-foldTick:
			if due := l.folds.due(l.opts.Now()); len(due) > 0 {
				l.write(due)
			}
		case <-tick.C:
			if l.policy == FsyncNever {
				continue
			}
			if err := l.file.sync(); err != nil {
				l.opts.Logger.Error("audit fsync failed", "error", err)
			}
		case <-l.quit:
			for {
				select {
				case e := <-l.in:
					l.write([]*entry{e})
				default:
					if l.folds != nil {
						if due := l.folds.due(time.Time{}); len(due) > 0 {
							l.write(due)
						}
					}
					return
				}
			}
		}
	}
}

// write seals a batch into the chain and retries each sink until it has
// the batch, then releases the batch's room.
func (l *Log) write(batch []*entry) {
	sealed := make([]Sealed, len(batch))
	var lines []byte
	durable := false
	head := l.file.Head()
	first := Head{Seq: head.Seq + 1}
	for i, e := range batch {
		line, hash, err := seal(e.rec, head.Seq+1, head.Hash)
		if err != nil { // a record that cannot be encoded is a bug: keep it visible
			l.opts.Logger.Error("sealing audit record", "error", err)
			line, hash, _ = seal(&Record{AuditID: e.rec.AuditID, Timestamp: e.rec.Timestamp, Category: CategorySystem,
				Action: e.rec.Action, Outcome: Failure, Note: err.Error()}, head.Seq+1, head.Hash)
		}
		head = Head{Seq: head.Seq + 1, Hash: hash}
		durable = durable || e.done != nil
		sealed[i] = Sealed{Record: e.rec, Line: line[:len(line)-1]}
		lines = append(lines, line...)
	}
	now := l.opts.Now()
	pending := append([]Sink{fileWriter{l.file, lines, first, head, now, durable}}, *l.sinks.Load()...)
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		var failed []Sink
		for _, s := range pending {
			if err := s.Write(context.Background(), sealed); err != nil {
				l.stats.SinkErrors.Add(1)
				l.opts.Logger.Error("audit sink failed; retrying", "sink", s.Name(), "records", len(sealed), "error", err)
				failed = append(failed, s)
			}
		}
		if pending = failed; len(pending) == 0 {
			break
		}
		time.Sleep(backoff)
	}
	l.stats.Written.Add(uint64(len(batch)))
	for _, e := range batch {
		if e.done != nil {
			close(e.done)
		}
		if !e.folded {
			<-l.slots
		}
	}
}

// fileWriter adapts the file sink to one batch.
type fileWriter struct {
	f           *FileSink
	lines       []byte
	first, last Head
	now         time.Time
	durable     bool
}

func (w fileWriter) Name() string { return "file" }

func (w fileWriter) Write(context.Context, []Sealed) error {
	return w.f.write(w.lines, w.first, w.last, w.now, w.durable)
}

// closeWait bounds how long Close waits for reserved records to be
// committed.
const closeWait = 5 * time.Second

// Close stops taking reservations, waits briefly for reserved records,
// writes what is queued, and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	for deadline := time.Now().Add(closeWait); len(l.slots) > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	l.once.Do(func() { close(l.quit) })
	<-l.done
	return l.file.close()
}
