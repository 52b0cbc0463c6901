package governance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/qgov/qgov/store"
)

// bucket holds the revisions: "rev/<16-digit number>" → Revision, and
// "head" → the number of the latest one as last written (a hint: a
// newer revision may exist, and readers look for it).
const bucket = "catalog"

// keep is how many revisions are kept; older ones are deleted.
const keep = 100

// Object is one object created through the governance API.
type Object struct {
	Kind   string `json:"kind"`
	Tenant string `json:"tenant,omitempty"`
	Name   string `json:"name"`
	// Owner is the tenant that created a global object (a role); only
	// its administrators change it.
	Owner string          `json:"owner,omitempty"`
	Spec  json.RawMessage `json:"spec"`
	// Revision is the revision that last changed the object: its ETag.
	Revision  int64     `json:"revision"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// key identifies an object.
func (o *Object) key() string { return objectKey(o.Kind, o.Tenant, o.Name) }

// objectKey keys a governance object by its kind, tenant and name.
func objectKey(kind, tenant, name string) string { return kind + "/" + tenant + "/" + name }

// Revision is the whole set of live objects after one change.
type Revision struct {
	Number  int64     `json:"revision"`
	Objects []Object  `json:"objects"`
	By      string    `json:"by,omitempty"`
	At      time.Time `json:"at"`
	// Changes name what this revision changed ("create projects
	// my-org/research").
	Changes []string `json:"changes,omitempty"`
}

// book reads and writes revisions in the store.
type book struct{ st store.Store }

func revKey(n int64) string { return fmt.Sprintf("rev/%016d", n) }

// latest returns the newest revision at or after the head hint; the
// empty revision 0 when none was ever written.
func (b book) latest(ctx context.Context, from *Revision) (*Revision, error) {
	cur := from
	if cur == nil {
		cur = &Revision{}
		raw, err := b.st.Get(ctx, bucket, "head")
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("reading the catalog head: %w", err)
		default:
			n, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("catalog head %q: %w", raw, err)
			}
			if cur, err = b.get(ctx, n); err != nil {
				return nil, err
			}
		}
	}
	for {
		next, err := b.get(ctx, cur.Number+1)
		if errors.Is(err, store.ErrNotFound) {
			return cur, nil
		}
		if err != nil {
			return nil, err
		}
		cur = next
	}
}

func (b book) get(ctx context.Context, n int64) (*Revision, error) {
	raw, err := b.st.Get(ctx, bucket, revKey(n))
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading catalog revision %d: %w", n, err)
	}
	var r Revision
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("catalog revision %d: %w", n, err)
	}
	return &r, nil
}

// create writes r unless a revision with its number exists, and reports
// whether it did: of concurrent writers of one number exactly one wins.
func (b book) create(ctx context.Context, r *Revision) (bool, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	ok, err := b.st.Create(ctx, bucket, revKey(r.Number), raw, 0)
	if err != nil || !ok {
		return false, err
	}
	if err := b.st.Put(ctx, bucket, "head", []byte(strconv.FormatInt(r.Number, 10)), 0); err != nil {
		return true, fmt.Errorf("catalog revision %d written; moving the head: %w", r.Number, err)
	}
	if r.Number > keep {
		_ = b.st.Delete(ctx, bucket, revKey(r.Number-keep)) // history only; a failure leaves an old revision behind
	}
	return true, nil
}
