package audit

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultFoldReads is how long repeated identical reads are folded into
// one record by default.
const DefaultFoldReads = 2 * time.Second

// folds gathers repeated identical reads (a client polling its job) into
// one record each: the first read of a kind opens a fold, which keeps
// its room in the queue; identical reads within the window add to its
// count and give back their room; the fold is queued once its window
// ends.
type folds struct {
	window time.Duration
	mu     sync.Mutex
	open   map[string]*entry
	// ready are folds whose window ended when an identical read came
	ready []*entry
}

func newFolds(window time.Duration) *folds {
	return &folds{window: window, open: map[string]*entry{}}
}

// foldKey is what makes two reads identical: who read, how, what, and
// what they were answered.
func foldKey(r *Record) string {
	var b strings.Builder
	for _, s := range []string{r.TenantID, r.UserID, r.KeyID, r.SessionID, r.InitiatorAuthnID, r.Action, r.Resource.Type, r.Resource.ID,
		r.Outcome, strconv.Itoa(r.Status), r.Code, r.Project, r.Instance, r.IPAddress, r.UserAgent, r.Note} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	if r.Request != nil {
		b.WriteString(r.Request.Method)
		b.WriteByte(0)
		b.WriteString(r.Request.Path)
	}
	return b.String()
}

// add folds rec into an open fold of identical reads and reports true,
// or opens a fold for it (e) and reports false.
func (f *folds) add(e *entry) bool {
	key := foldKey(e.rec)
	f.mu.Lock()
	defer f.mu.Unlock()
	if open, ok := f.open[key]; ok {
		if e.rec.Timestamp.Sub(open.rec.Timestamp) < f.window {
			open.rec.Count++
			last := e.rec.Timestamp
			open.rec.LastTimestamp = &last
			return true
		}
		f.ready = append(f.ready, open)
	}
	e.rec.Count = 1
	f.open[key] = e
	return false
}

// due removes and returns the folds whose window ended by now (all of
// them when now is zero), ready to be written.
func (f *folds) due(now time.Time) []*entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.ready
	f.ready = nil
	for key, e := range f.open {
		if now.IsZero() || now.Sub(e.rec.Timestamp) >= f.window {
			out = append(out, e)
			delete(f.open, key)
		}
	}
	for _, e := range out {
		if e.rec.Count == 1 {
			e.rec.Count = 0 // a read that was not repeated is an ordinary record
		}
	}
	return out
}

// held is how many folds hold room in the queue.
func (f *folds) held() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.open) + len(f.ready)
}
