package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/qgov/qgov/store"
)

// ErrNotFound is returned for an id no hold has.
var ErrNotFound = errors.New("no held job with this id")

// bucket is the store bucket of holds and their records.
const bucket = "approvals"

// keep is how long a hold and its records stay in the store.
const keep = 90 * 24 * time.Hour

// maxRecords bounds the records of one hold read at once: its decisions
// and take-overs.
const maxRecords = 1000

// Book keeps holds in a store.
type Book struct {
	st store.Store
}

// NewBook returns a book over st.
func NewBook(st store.Store) *Book { return &Book{st: st} }

func (b *Book) create(ctx context.Context, key string, v any, ttl time.Duration) (bool, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	won, err := b.st.Create(ctx, bucket, key, data, ttl)
	if err != nil {
		return false, fmt.Errorf("recording %s: %w", key, err)
	}
	return won, nil
}

// Put lists a new hold among its tenant's open ones, then stores it: a
// hold is never recorded without being listed, so the reconciler always
// finds it (a listing whose hold was never stored is skipped).
func (b *Book) Put(ctx context.Context, h Hold) error {
	if _, err := b.create(ctx, "o/"+h.Tenant+"/"+h.ID, h.ID, keep); err != nil {
		return err
	}
	won, err := b.create(ctx, "j/"+h.ID+"/h", h, keep)
	if err == nil && !won {
		err = fmt.Errorf("a hold with id %s exists", h.ID)
	}
	return err
}

// Get returns a hold with its decisions, fate and upstream answer, in
// one store read.
func (b *Book) Get(ctx context.Context, id string) (*State, error) {
	entries, err := b.st.List(ctx, bucket, "j/"+id+"/", "", maxRecords)
	if err != nil {
		return nil, fmt.Errorf("reading hold %s: %w", id, err)
	}
	s := &State{Decisions: map[int]Decision{}}
	found := false
	for _, e := range entries {
		rest := strings.TrimPrefix(e.Key, "j/"+id+"/")
		if rest == "h" {
			found = true
		}
		if err := s.absorb(rest, e.Value); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", e.Key, err)
		}
	}
	if !found {
		return nil, ErrNotFound
	}
	s.fillAuto()
	return s, nil
}

// absorb reads one record of the hold; rest is its key after the id.
func (s *State) absorb(rest string, value []byte) error {
	var v any
	switch {
	case rest == "h":
		v = &s.Hold
	case rest == "f":
		s.Fate = new(Fate)
		v = s.Fate
	case rest == "u":
		s.Upstream = new(Upstream)
		v = s.Upstream
	case strings.HasPrefix(rest, "a/"):
		var a Attempt
		if err := json.Unmarshal(value, &a); err != nil {
			return err
		}
		s.Attempts = append(s.Attempts, a) // keys sort by attempt
		return nil
	case strings.HasPrefix(rest, "d/"):
		step, err := strconv.Atoi(rest[2:])
		if err != nil {
			return err
		}
		var d Decision
		if err := json.Unmarshal(value, &d); err != nil {
			return err
		}
		s.Decisions[step] = d
		return nil
	default:
		return nil
	}
	return json.Unmarshal(value, v)
}

// Decide records a step's decision, and reports false when the step was
// already decided.
func (b *Book) Decide(ctx context.Context, id string, step int, d Decision) (bool, error) {
	return b.create(ctx, "j/"+id+"/d/"+strconv.Itoa(step), d, keep)
}

// Escalate records that a step was escalated, and reports true only to
// the first to record it, who announces it.
func (b *Book) Escalate(ctx context.Context, id string, step int) (bool, error) {
	return b.create(ctx, "j/"+id+"/e/"+strconv.Itoa(step), true, keep)
}

// Finish records a hold's fate, and reports false when it already had
// one. Only the caller that recorded Released may forward the job. The
// hold stays among its tenant's open ones until Close: its follow-up
// (the forward, the reservation) is unfinished until then.
func (b *Book) Finish(ctx context.Context, s *State, f Fate) (bool, error) {
	return b.create(ctx, "j/"+s.ID+"/f", f, keep)
}

// Close takes a hold whose fate and follow-up are complete off its
// tenant's open list.
func (b *Book) Close(ctx context.Context, s *State) error {
	if err := b.st.Delete(ctx, bucket, "o/"+s.Tenant+"/"+s.ID); err != nil {
		return fmt.Errorf("closing hold %s: %w", s.ID, err)
	}
	return nil
}

// TakeOver records that node takes over the forward of a released job
// from the owner of attempt n-1 (attempt 0 is the release itself), and
// reports false when someone else took attempt n first.
func (b *Book) TakeOver(ctx context.Context, id string, n int, a Attempt) (bool, error) {
	return b.create(ctx, fmt.Sprintf("j/%s/a/%03d", id, n), a, keep)
}

// Answer records the upstream's answer to a released job, once: it
// reports false when an answer was recorded already.
func (b *Book) Answer(ctx context.Context, id string, u Upstream) (bool, error) {
	return b.create(ctx, "j/"+id+"/u", u, keep)
}

// Open lists the holds of a tenant the gateway still has work on: those
// awaiting a decision, and those decided whose follow-up is not closed.
func (b *Book) Open(ctx context.Context, tenant string) ([]*State, error) {
	var out []*State
	for after := ""; ; {
		page, err := b.st.List(ctx, bucket, "o/"+tenant+"/", after, 200)
		if err != nil {
			return nil, fmt.Errorf("listing holds: %w", err)
		}
		for _, e := range page {
			s, err := b.Get(ctx, strings.TrimPrefix(e.Key, "o/"+tenant+"/"))
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		if len(page) < 200 {
			return out, nil
		}
		after = page[len(page)-1].Key
	}
}

// Pending counts the open holds of every tenant (awaiting a decision,
// or decided and being followed up), from the open lists alone.
func (b *Book) Pending(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for after := ""; ; {
		page, err := b.st.List(ctx, bucket, "o/", after, 500)
		if err != nil {
			return nil, fmt.Errorf("listing holds: %w", err)
		}
		for _, e := range page {
			tenant, _, _ := strings.Cut(strings.TrimPrefix(e.Key, "o/"), "/")
			out[tenant]++
		}
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].Key
	}
}

// TakeSlot claims one of max approvals a workflow may grant in a
// tenant on day; it reports false when all are taken. Give back a slot
// whose decision then lost its race.
func (b *Book) TakeSlot(ctx context.Context, tenant, workflow, day string, max int, id string) (slot string, ok bool, err error) {
	for n := 1; n <= max; n++ {
		key := fmt.Sprintf("c/%s/%s/%s/%03d", tenant, workflow, day, n)
		won, err := b.create(ctx, key, id, 48*time.Hour)
		if err != nil || won {
			return key, won, err
		}
	}
	return "", false, nil
}

// GiveBack frees a slot TakeSlot returned.
func (b *Book) GiveBack(ctx context.Context, slot string) error {
	return b.st.Delete(ctx, bucket, slot)
}
