package governance

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/qgov/qgov/store"
)

// Errors of a change, each wrapped with its reason.
var (
	// ErrManaged: the object is declared in configuration and read-only
	// through the API.
	ErrManaged = errors.New("managed by configuration")
	// ErrExists: a create names an object that exists.
	ErrExists = errors.New("already exists")
	// ErrNotFound: a change or read names no object.
	ErrNotFound = errors.New("not found")
	// ErrStale: If-Match names another revision than the object's.
	ErrStale = errors.New("stale revision")
	// ErrInvalid: the object, or the configuration it would produce, is
	// not valid.
	ErrInvalid = errors.New("invalid")
	// ErrConflict: other writers kept winning; try again.
	ErrConflict = errors.New("concurrent changes")
)

// Verbs of an Op.
const (
	// Create adds an object that must not exist.
	Create = "create"
	// Put creates or replaces an object.
	Put = "put"
	// Patch merges a JSON merge patch (RFC 7386) into an existing object.
	Patch = "patch"
	// Delete removes an existing object.
	Delete = "delete"
)

// Op is one change of one object.
type Op struct {
	Verb   string
	Kind   Kind
	Tenant string // "" for a global kind
	Name   string
	// Spec is the object (Create, Put) or the merge patch (Patch).
	Spec []byte
	// IfMatch, when set, is the revision the object must have
	// (its ETag), or "*" for any existing object.
	IfMatch string
	// Owner is the tenant creating a global object.
	Owner string
}

// Diff is what a change does to one object; Before and After are its
// specs (nil when absent).
type Diff struct {
	Op     string `json:"op"` // create, update, delete
	Kind   string `json:"kind"`
	Tenant string `json:"tenant,omitempty"`
	Name   string `json:"name"`
	// Owner is the tenant a global object (a role) belongs to: the one
	// that created it.
	Owner  string          `json:"owner,omitempty"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// Entry is an object as the API shows it: declared in configuration
// (Source set, read-only) or live (created through the API).
type Entry struct {
	Kind   string `json:"kind"`
	Tenant string `json:"tenant,omitempty"`
	Name   string `json:"name"`
	Owner  string `json:"owner,omitempty"`
	// ManagedBy is "config" or "api".
	ManagedBy string `json:"managed_by"`
	// Source is where a declared object is declared.
	Source    string          `json:"source,omitempty"`
	Spec      json.RawMessage `json:"spec"`
	Revision  int64           `json:"revision,omitempty"`
	UpdatedBy string          `json:"updated_by,omitempty"`
	UpdatedAt *time.Time      `json:"updated_at,omitempty"`
	// Disabled says why a live object the configuration contradicts is
	// not in force.
	Disabled string `json:"disabled,omitempty"`
}

// Key names the entry's object uniquely: its kind, tenant and name.
func (e Entry) Key() string { return objectKey(e.Kind, e.Tenant, e.Name) }

// ETag is the entry's entity tag: its revision for a live object, and
// for a declared one a tag that no If-Match of a change can satisfy.
func (e Entry) ETag() string {
	if e.ManagedBy == "config" {
		return `W/"config"`
	}
	return `"` + strconv.FormatInt(e.Revision, 10) + `"`
}

// Manager keeps the declared configuration and the latest revision of
// live objects, and puts the model built from both in force: build
// validates a whole configuration into a model M, use installs it.
type Manager[M any] struct {
	book     book
	declared Config
	index    map[string]Item // kind/tenant/name → declared item
	build    func(Config) (M, error)
	use      func(M)
	logger   *slog.Logger
	now      func() time.Time

	mu   sync.Mutex
	head *Revision
	// disabled are the live objects the configuration contradicts, by
	// key, with why: they are kept but not in force.
	disabled map[string]string
}

// NewManager returns a Manager over the store's revisions.
func NewManager[M any](st store.Store, declared Config, build func(Config) (M, error), use func(M), logger *slog.Logger) *Manager[M] {
	m := &Manager[M]{book: book{st}, declared: declared, index: map[string]Item{}, build: build, use: use,
		logger: cmp.Or(logger, slog.New(slog.DiscardHandler)), now: time.Now, head: &Revision{}, disabled: map[string]string{}}
	for _, k := range Kinds {
		for _, it := range k.items(&declared) {
			m.index[objectKey(k.Name(), it.Tenant, it.Name)] = it
		}
	}
	return m
}

// Load reads the latest revision and builds the model of the declared
// and live objects, without putting it in force. Configuration wins: a
// live object that contradicts it (a name configuration now uses, a
// reference to something configuration dropped) is disabled, not in
// force, and reported by Disabled; only a configuration that is invalid
// on its own fails.
func (m *Manager[M]) Load(ctx context.Context) (M, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var zero M
	head, err := m.book.latest(ctx, nil)
	if err != nil {
		return zero, err
	}
	model, err := m.fit(head)
	if err != nil {
		return zero, err
	}
	m.head = head
	return model, nil
}

// Refresh looks for revisions other replicas wrote and puts the newest
// in force. It reports whether there was one.
func (m *Manager[M]) Refresh(ctx context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.catchUp(ctx)
}

func (m *Manager[M]) catchUp(ctx context.Context) (bool, error) {
	head, err := m.book.latest(ctx, m.head)
	if err != nil || head.Number == m.head.Number {
		return false, err
	}
	model, err := m.fit(head)
	if err != nil {
		return false, err
	}
	m.head = head
	m.use(model)
	return true, nil
}

// fit builds the model of a revision with this replica's configuration:
// all of it when it builds, else the configuration with as many of the
// live objects as build with it, kind by kind and oldest first; those
// left out are disabled with the reason their addition failed.
func (m *Manager[M]) fit(r *Revision) (M, error) {
	m.disabled = map[string]string{}
	model, err := m.build(m.merge(r, nil))
	if err == nil {
		return model, nil
	}
	var zero M
	if _, err := m.build(m.merge(&Revision{}, nil)); err != nil {
		return zero, err // the configuration alone is invalid: its own errors
	}
	objects := slices.Clone(r.Objects)
	order := func(kind string) int { return slices.Index(fitOrder, kind) }
	slices.SortStableFunc(objects, func(a, b Object) int {
		return cmp.Or(cmp.Compare(order(a.Kind), order(b.Kind)), cmp.Compare(a.Revision, b.Revision))
	})
	kept := &Revision{Number: r.Number}
	for _, o := range objects {
		if _, declared := m.index[o.key()]; declared {
			continue
		}
		trial := &Revision{Number: r.Number, Objects: append(slices.Clone(kept.Objects), o)}
		if _, err := m.build(m.merge(trial, nil)); err != nil {
			m.disabled[o.key()] = err.Error()
			m.logger.Warn("qgov lint: a governance object created through the API contradicts the configuration and is disabled",
				"kind", o.Kind, "tenant", o.Tenant, "name", o.Name, "error", err)
			continue
		}
		kept = trial
	}
	return m.build(m.merge(kept, nil))
}

// fitOrder is the order in which live objects are fitted to the
// configuration: what others refer to first.
var fitOrder = []string{"tenants", "instances", "projects", "roles", "access_groups", "assignments", "limits", "budgets", "workflows", "policies"}

// Disabled lists the live objects the configuration contradicts, with
// why, as entries.
func (m *Manager[M]) Disabled() []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Entry
	for i := range m.head.Objects {
		o := &m.head.Objects[i]
		if _, off := m.disabled[o.key()]; off {
			out = append(out, m.liveEntry(o))
		}
	}
	return out
}

// Run refreshes every interval until ctx ends.
func (m *Manager[M]) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
				m.logger.Error("refreshing governance objects", "error", err)
			}
		}
	}
}

// Revision returns the number of the revision in force.
func (m *Manager[M]) Revision() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.head.Number
}

// merge returns the declared configuration with a revision's live
// objects added; a live object that configuration now declares is left
// out (configuration wins), and so are the disabled ones (m.disabled
// when disabled is nil).
func (m *Manager[M]) merge(r *Revision, disabled map[string]string) Config {
	if disabled == nil {
		disabled = m.disabled
	}
	var c Config
	c.Merge(m.declared) // copies, so the appends below never reach the declared arrays
	for _, o := range r.Objects {
		if _, declared := m.index[o.key()]; declared {
			continue
		}
		if _, off := disabled[o.key()]; off {
			continue
		}
		k, ok := KindOf(o.Kind)
		if !ok {
			m.logger.Warn("ignoring a governance object of an unknown kind", "kind", o.Kind, "name", o.Name)
			continue
		}
		it, err := k.decode(o.Spec, o.Tenant, o.Name, fmt.Sprintf("governance API (revision %d, %s)", o.Revision, o.UpdatedBy))
		if err != nil {
			m.logger.Error("ignoring an unreadable governance object", "kind", o.Kind, "name", o.Name, "error", err)
			continue
		}
		k.add(&c, it)
	}
	return c
}

// Entries lists a kind's objects of a tenant (for a global kind, every
// one), declared and live, by name.
func (m *Manager[M]) Entries(k Kind, tenant string) []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Entry
	for _, it := range k.items(&m.declared) {
		if k.Global() || it.Tenant == tenant {
			out = append(out, declaredEntry(k, it))
		}
	}
	for i := range m.head.Objects {
		o := &m.head.Objects[i]
		if _, declared := m.index[o.key()]; !declared && o.Kind == k.Name() && (k.Global() || o.Tenant == tenant) {
			out = append(out, m.liveEntry(o))
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Entry returns one object.
func (m *Manager[M]) Entry(k Kind, tenant, name string) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := objectKey(k.Name(), tenant, name)
	if it, ok := m.index[key]; ok {
		return declaredEntry(k, it), nil
	}
	if o := m.head.find(key); o != nil {
		return m.liveEntry(o), nil
	}
	return Entry{}, fmt.Errorf("%w: %s", ErrNotFound, describe(k, tenant, name))
}

func declaredEntry(k Kind, it Item) Entry {
	spec, _ := json.Marshal(it.Value) // the objects of a Config marshal
	return Entry{Kind: k.Name(), Tenant: it.Tenant, Name: it.Name, ManagedBy: "config", Source: it.Source, Spec: withoutSource(spec)}
}

func (m *Manager[M]) liveEntry(o *Object) Entry {
	at := o.UpdatedAt
	return Entry{Kind: o.Kind, Tenant: o.Tenant, Name: o.Name, Owner: o.Owner, ManagedBy: "api", Spec: o.Spec,
		Revision: o.Revision, UpdatedBy: o.UpdatedBy, UpdatedAt: &at, Disabled: m.disabled[o.key()]}
}

// Live returns the live objects of a tenant, with the global ones it
// owns, as a Config (what `qgov gov export` writes).
func (m *Manager[M]) Live(tenant string) Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	var c Config
	for _, o := range m.head.Objects {
		k, ok := KindOf(o.Kind)
		if _, declared := m.index[o.key()]; !ok || declared || (o.Tenant != tenant && o.Owner != tenant) {
			continue
		}
		if it, err := k.decode(o.Spec, o.Tenant, o.Name, ""); err == nil {
			k.add(&c, it)
		}
	}
	return c
}

func (r *Revision) find(key string) *Object {
	for i := range r.Objects {
		if r.Objects[i].key() == key {
			return &r.Objects[i]
		}
	}
	return nil
}

func describe(k Kind, tenant, name string) string {
	if k.Global() {
		return fmt.Sprintf("%s %q", k.Name(), name)
	}
	return fmt.Sprintf("%s %q of tenant %q", k.Name(), name, tenant)
}

// Change is a change of governance objects: its ops, who makes it, and
// the authorization it must pass.
type Change struct {
	By  string
	Ops []Op
	// DryRun checks the change and answers its diffs without writing it.
	DryRun bool
	// Authorize decides whether the change may be made. It sees every
	// object as the change leaves it (the diffs) and the whole
	// configuration the change produces, under the change's lock, just
	// before it is written: what it allows is exactly what is written.
	// A change without it is refused.
	Authorize func(diffs []Diff, next Config) error
}

// ErrUnauthorized: a change came without an authorization.
var ErrUnauthorized = errors.New("a change of governance objects needs an authorization")

// Change applies ops as one new revision, after checking each against
// the objects as they are, authorizing what they do and building the
// whole configuration they produce; nothing is written when any fails
// (the authorization's error is returned as it is). With DryRun nothing
// is written either, and the diffs say what would change.
func (m *Manager[M]) Change(ctx context.Context, c Change) (int64, []Diff, error) {
	if c.Authorize == nil {
		return 0, nil, ErrUnauthorized
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for range 8 {
		if _, err := m.catchUp(ctx); err != nil {
			return 0, nil, err
		}
		next, diffs, err := m.apply(m.head, c.By, c.Ops)
		if err != nil {
			return 0, nil, err
		}
		// an object the change touches is in force again if it fits
		disabled := maps.Clone(m.disabled)
		for _, d := range diffs {
			delete(disabled, objectKey(d.Kind, d.Tenant, d.Name))
		}
		merged := m.merge(next, disabled)
		if err := c.Authorize(diffs, merged); err != nil {
			return 0, nil, err
		}
		model, err := m.build(merged)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if c.DryRun || len(diffs) == 0 {
			return m.head.Number, diffs, nil
		}
		won, err := m.book.create(ctx, next)
		if won {
			m.head, m.disabled = next, disabled
			m.use(model)
			return next.Number, diffs, err
		}
		if err != nil {
			return 0, nil, err
		}
	}
	return 0, nil, fmt.Errorf("%w: other writers kept changing the governance objects; try again", ErrConflict)
}

// apply returns the revision after ops and what they change.
func (m *Manager[M]) apply(head *Revision, by string, ops []Op) (*Revision, []Diff, error) {
	now := m.now().UTC()
	next := &Revision{Number: head.Number + 1, By: by, At: now}
	objects := map[string]Object{}
	var order []string
	for _, o := range head.Objects {
		if _, declared := m.index[o.key()]; declared {
			next.Changes = append(next.Changes, "adopted by configuration "+o.key())
			continue
		}
		objects[o.key()] = o
		order = append(order, o.key())
	}
	var diffs []Diff
	for _, op := range ops {
		key := objectKey(op.Kind.Name(), op.Tenant, op.Name)
		what := describe(op.Kind, op.Tenant, op.Name)
		if it, ok := m.index[key]; ok {
			if op.Verb == Put && sameSpec(op, it) {
				continue
			}
			return nil, nil, fmt.Errorf("%w: %s is declared at %s and read-only through the API; change it there", ErrManaged, what, it.Source)
		}
		cur, exists := objects[key]
		if err := precondition(op, what, cur, exists); err != nil {
			return nil, nil, err
		}
		d := Diff{Kind: op.Kind.Name(), Tenant: op.Tenant, Name: op.Name, Owner: op.Owner}
		if exists {
			d.Before, d.Owner = cur.Spec, cur.Owner
		}
		if op.Verb == Delete {
			delete(objects, key)
			d.Op = Delete
			diffs = append(diffs, d)
			next.Changes = append(next.Changes, "delete "+key)
			continue
		}
		spec := op.Spec
		if op.Verb == Patch {
			var err error
			if spec, err = mergePatch(cur.Spec, op.Spec); err != nil {
				return nil, nil, fmt.Errorf("%w: %s: %v", ErrInvalid, what, err)
			}
		}
		it, err := op.Kind.decode(spec, op.Tenant, op.Name, "")
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		canon, _ := json.Marshal(it.Value) // decoded from JSON, so it marshals
		canon = withoutSource(canon)
		if exists && bytes.Equal(canon, cur.Spec) {
			continue
		}
		owner := cur.Owner
		if !exists {
			owner = op.Owner
			order = append(order, key)
			d.Op = Create
		} else {
			d.Op = "update"
		}
		objects[key] = Object{Kind: op.Kind.Name(), Tenant: op.Tenant, Name: op.Name, Owner: owner, Spec: canon,
			Revision: next.Number, UpdatedBy: by, UpdatedAt: now}
		d.After = canon
		diffs = append(diffs, d)
		next.Changes = append(next.Changes, d.Op+" "+key)
	}
	for _, key := range order {
		if o, ok := objects[key]; ok {
			next.Objects = append(next.Objects, o)
			delete(objects, key) // a key listed twice (deleted, then created again) is kept once
		}
	}
	return next, diffs, nil
}

// precondition checks an op against the object as it is.
func precondition(op Op, what string, cur Object, exists bool) error {
	switch {
	case op.Verb == Create && exists:
		return fmt.Errorf("%w: %s (revision %d); replace it with If-Match instead", ErrExists, what, cur.Revision)
	case (op.Verb == Patch || op.Verb == Delete) && !exists:
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	case op.IfMatch == "" || op.IfMatch == "*" && exists:
		return nil
	case op.IfMatch == "*":
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	case !exists:
		return fmt.Errorf("%w: %s no longer exists (If-Match %s)", ErrStale, what, op.IfMatch)
	case op.IfMatch != strconv.FormatInt(cur.Revision, 10):
		return fmt.Errorf("%w: %s is at revision %d (changed by %s at %s), not %s; read it again and redo the change",
			ErrStale, what, cur.Revision, cur.UpdatedBy, cur.UpdatedAt.Format(time.RFC3339), op.IfMatch)
	}
	return nil
}

// sameSpec reports whether a Put carries exactly the declared object.
func sameSpec(op Op, declared Item) bool {
	it, err := op.Kind.decode(op.Spec, op.Tenant, op.Name, "")
	if err != nil {
		return false
	}
	a, _ := json.Marshal(it.Value)
	b, _ := json.Marshal(declared.Value)
	return bytes.Equal(withoutSource(a), withoutSource(b))
}

// withoutSource drops the "source" field of a marshalled object.
func withoutSource(spec []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(spec, &m) != nil {
		return spec
	}
	delete(m, "source")
	out, _ := json.Marshal(m) // map keys sort, so equal objects give equal bytes
	return out
}

// mergePatch applies an RFC 7386 JSON merge patch.
func mergePatch(doc, patch []byte) ([]byte, error) {
	var d, p any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, fmt.Errorf("the merge patch: %w", err)
	}
	return json.Marshal(mergeValue(d, p))
}

func mergeValue(doc, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	dm, ok := doc.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(dm, k)
		} else {
			dm[k] = mergeValue(dm[k], v)
		}
	}
	return dm
}
