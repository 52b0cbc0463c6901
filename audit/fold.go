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
// one record each: the first read of a kind opens a fold, identical reads
// within the window add to its count, and the fold is written once its
// window ends. Folds hold no room in the queue; at most max are open,
// and a read that finds no room is written as it is.
type folds struct {
	window time.Duration
	max    int
	mu     sync.Mutex
	open   map[string]*entry
	// ready are folds whose window ended when an identical read came
	ready []*entry
}

func newFolds(window time.Duration, max int) *folds {
	return &folds{window: window, max: max, open: map[string]*entry{}}
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

// add folds e's read into an open fold of identical reads, or opens a
// fold for it, and reports true; it reports false when the read is not
// to be folded (it carries a note, or no fold has room), and is to be
// written as it is.
func (f *folds) add(e *entry) bool {
	if e.rec.Note != "" { // an audited exception is counted by reports, one record each
		return false
	}
	key := foldKey(e.rec)
	f.mu.Lock()
	defer f.mu.Unlock()
	if open, ok := f.open[key]; ok {
		if e.rec.Timestamp.Sub(open.rec.Timestamp) < f.window {
			open.rec.Count++
			if open.rec.LastTimestamp == nil || e.rec.Timestamp.After(*open.rec.LastTimestamp) {
				last := e.rec.Timestamp
				open.rec.LastTimestamp = &last
			}
			return true
		}
		f.ready = append(f.ready, open)
		delete(f.open, key)
	}
	if len(f.open)+len(f.ready) >= f.max {
		return false
	}
	e.rec.Count = 1
	e.folded = true
	f.open[key] = e
	return true
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
