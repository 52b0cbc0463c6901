package governance

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/store"
)

// declared is a configuration with one tenant and one project.
var declared = Config{Config: org.Config{
	Tenants:  []org.TenantSettings{{Name: "lab", Source: "Caddyfile:3"}},
	Projects: []org.Project{{Name: "ml", Tenant: "lab", Source: "Caddyfile:7"}},
}}

// manager builds the organisation as its model and counts what it puts
// in force.
func manager(st store.Store, used *atomic.Int64) *Manager[*org.Directory] {
	return NewManager(st, declared, func(c Config) (*org.Directory, error) { return org.NewDirectory(c.Config) },
		func(*org.Directory) { used.Add(1) }, nil)
}

// loaded is a manager over a new bbolt store, loaded, and the count of
// the models it put in force.
func loaded(t *testing.T) (store.Store, *Manager[*org.Directory], *atomic.Int64) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "qgov.db"))
	require.NoError(t, err)
	used := new(atomic.Int64)
	m := manager(st, used)
	_, err = m.Load(context.Background())
	require.NoError(t, err)
	return st, m, used
}

// allowAll authorizes every change.
func allowAll([]Diff, Config) error { return nil }

func project(name string) Op {
	k, _ := KindOf("projects")
	return Op{Verb: Create, Kind: k, Tenant: "lab", Name: name, Spec: []byte(`{"parent":"ml"}`)}
}

func TestChanges(t *testing.T) {
	ctx := context.Background()
	st, m, used := loaded(t)
	projects, _ := KindOf("projects")

	_, _, err := m.Change(ctx, Change{By: "ann", Ops: []Op{project("qml")}})
	require.ErrorIs(t, err, ErrUnauthorized)
	denied := errors.New("denied")
	var seen []Diff
	_, _, err = m.Change(ctx, Change{By: "ann", Ops: []Op{project("qml")}, Authorize: func(d []Diff, next Config) error {
		seen = d
		assert.Len(t, next.Projects, 2, "the configuration the change produces")
		return denied
	}})
	require.ErrorIs(t, err, denied)
	require.Len(t, seen, 1)
	assert.JSONEq(t, `{"name":"qml","tenant":"lab","parent":"ml"}`, string(seen[0].After))
	assert.Zero(t, used.Load(), "nothing put in force")

	rev, diffs, err := m.Change(ctx, Change{By: "ann", Ops: []Op{project("qml")}, Authorize: allowAll})
	require.NoError(t, err)
	assert.Equal(t, int64(1), rev)
	require.Len(t, diffs, 1)
	assert.Equal(t, Create, diffs[0].Op)
	assert.Equal(t, int64(1), used.Load())

	for _, tc := range []struct {
		name string
		op   Op
		want error
		says string
	}{
		{"declared", Op{Verb: Put, Kind: projects, Tenant: "lab", Name: "ml", Spec: []byte(`{"cost_center":"x"}`), IfMatch: "*"}, ErrManaged, "declared at Caddyfile:7"},
		{"exists", project("qml"), ErrExists, "revision 1"},
		{"stale", Op{Verb: Patch, Kind: projects, Tenant: "lab", Name: "qml", Spec: []byte(`{"cost_center":"x"}`), IfMatch: "7"}, ErrStale, "changed by ann"},
		{"missing", Op{Verb: Delete, Kind: projects, Tenant: "lab", Name: "nope"}, ErrNotFound, `"nope"`},
		{"unknown field", Op{Verb: Create, Kind: projects, Tenant: "lab", Name: "x", Spec: []byte(`{"colour":"red"}`)}, ErrInvalid, `unknown field "colour"`},
		{"wrong type", Op{Verb: Create, Kind: projects, Tenant: "lab", Name: "x", Spec: []byte(`{"instances":"QR"}`)}, ErrInvalid, `field "instances" must be []string`},
		{"dangling reference", Op{Verb: Create, Kind: projects, Tenant: "lab", Name: "x", Spec: []byte(`{"parent":"nowhere"}`)}, ErrInvalid, `unknown parent project "nowhere"`},
		{"other tenant", Op{Verb: Create, Kind: projects, Tenant: "lab", Name: "x", Spec: []byte(`{"tenant":"other"}`)}, ErrInvalid, `names tenant "other"`},
	} {
		_, _, err := m.Change(ctx, Change{By: "bob", Ops: []Op{tc.op}, Authorize: allowAll})
		assert.ErrorIs(t, err, tc.want, tc.name)
		assert.ErrorContains(t, err, tc.says, tc.name)
	}
	assert.Equal(t, int64(1), m.Revision(), "a refused change writes nothing")

	// a batch is applied whole or not at all
	_, _, err = m.Change(ctx, Change{By: "bob", Ops: []Op{project("a"), project("qml")}, Authorize: allowAll})
	require.ErrorIs(t, err, ErrExists)
	_, err = m.Entry(projects, "lab", "a")
	assert.ErrorIs(t, err, ErrNotFound)

	// a patch with the right revision; a dry run writes nothing
	rev, _, err = m.Change(ctx, Change{By: "bob", Ops: []Op{{Verb: Patch, Kind: projects, Tenant: "lab", Name: "qml", Spec: []byte(`{"cost_center":"CC-1"}`), IfMatch: "1"}}, Authorize: allowAll})
	require.NoError(t, err)
	assert.Equal(t, int64(2), rev)
	_, diffs, err = m.Change(ctx, Change{By: "bob", Ops: []Op{{Verb: Delete, Kind: projects, Tenant: "lab", Name: "qml", IfMatch: "2"}}, DryRun: true, Authorize: allowAll})
	require.NoError(t, err)
	assert.Equal(t, Delete, diffs[0].Op)
	e, err := m.Entry(projects, "lab", "qml")
	require.NoError(t, err)
	assert.Equal(t, `"2"`, e.ETag())
	assert.Contains(t, string(e.Spec), "CC-1")

	// a second manager on the same store reads the revision on load
	var used2 atomic.Int64
	other := manager(st, &used2)
	dir, err := other.Load(ctx)
	require.NoError(t, err)
	assert.NotNil(t, dir.Project("lab", "qml"))
	list := other.Entries(projects, "lab")
	require.Len(t, list, 2)
	assert.Equal(t, "config", list[0].ManagedBy)
	assert.Equal(t, "api", list[1].ManagedBy)
}

// TestConfigurationWins loads a configuration that live objects now
// contradict: the load succeeds, configuration's objects are in force,
// and each contradicting live object is disabled, listed with why, until
// a change makes it fit again.
func TestConfigurationWins(t *testing.T) {
	ctx := context.Background()
	st, m, _ := loaded(t)
	projects, _ := KindOf("projects")
	_, _, err := m.Change(ctx, Change{By: "ann", Ops: []Op{project("qml"), {Verb: Create, Kind: projects, Tenant: "lab", Name: "solo", Spec: []byte(`{}`)}}, Authorize: allowAll})
	require.NoError(t, err)

	// the next configuration drops ml, which qml groups under
	changed := Config{Config: org.Config{Tenants: declared.Tenants, Projects: []org.Project{{Name: "lab-main", Tenant: "lab", Source: "Caddyfile:7"}}}}
	next := NewManager(st, changed, func(c Config) (*org.Directory, error) { return org.NewDirectory(c.Config) }, func(*org.Directory) {}, nil)
	dir, err := next.Load(ctx)
	require.NoError(t, err, "a live object never makes a configuration load fail")
	assert.NotNil(t, dir.Project("lab", "lab-main"))
	assert.NotNil(t, dir.Project("lab", "solo"), "objects that fit stay in force")
	assert.Nil(t, dir.Project("lab", "qml"))
	off := next.Disabled()
	require.Len(t, off, 1)
	assert.Equal(t, "qml", off[0].Name)
	assert.Contains(t, off[0].Disabled, `"ml"`)
	e, err := next.Entry(projects, "lab", "qml")
	require.NoError(t, err)
	assert.NotEmpty(t, e.Disabled)

	// a change that makes it fit puts it in force again
	_, _, err = next.Change(ctx, Change{By: "ann", Ops: []Op{{Verb: Put, Kind: projects, Tenant: "lab", Name: "qml", Spec: []byte(`{"parent":"lab-main"}`)}}, Authorize: allowAll})
	require.NoError(t, err)
	assert.Empty(t, next.Disabled())

	// a configuration invalid on its own still fails
	broken := Config{Config: org.Config{Projects: []org.Project{{Name: "x", Tenant: "lab", Parent: "nowhere"}}}}
	_, err = NewManager(st, broken, func(c Config) (*org.Directory, error) { return org.NewDirectory(c.Config) }, func(*org.Directory) {}, nil).Load(ctx)
	require.Error(t, err)
}

// TestConcurrentWritersOnRedis has two replicas create the same object
// and different objects at once: exactly one create of each name wins,
// every other object lands, and each replica ends at the same revision.
func TestConcurrentWritersOnRedis(t *testing.T) {
	ctx := context.Background()
	addr := testenv.Redis(t)
	var used atomic.Int64
	replicas := []*Manager[*org.Directory]{}
	for range 2 {
		st := store.NewRedis(redis.NewClient(&redis.Options{Addr: addr}), "qgov:", 0)
		t.Cleanup(func() { _ = st.Close() })
		m := manager(st, &used)
		_, err := m.Load(ctx)
		require.NoError(t, err)
		replicas = append(replicas, m)
	}
	var wg sync.WaitGroup
	var won, exists atomic.Int64
	for i := range 16 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, _, err := replicas[i%2].Change(ctx, Change{By: "ann", Ops: []Op{project("shared")}, Authorize: allowAll})
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, ErrExists):
				exists.Add(1)
			default:
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			_, _, err := replicas[i%2].Change(ctx, Change{By: "bob", Ops: []Op{project(fmt.Sprintf("p%02d", i))}, Authorize: allowAll})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), won.Load())
	assert.Equal(t, int64(15), exists.Load())
	for _, m := range replicas {
		_, err := m.Refresh(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(17), m.Revision())
		projects, _ := KindOf("projects")
		assert.Len(t, m.Entries(projects, "lab"), 18, "ml, shared and 16 more")
	}
}

func TestGovernanceFileRoundTrip(t *testing.T) {
	in := `
tenants:
  - name: my-org
    display_name: My Organization
budgets:
  - scope: tenant
    name: my-org
    monthly_limit_usd: 1000000
policies:
  - name: require_tags
    tenant: my-org
    condition: not tags.project
    action: block
`
	c, err := ParseFile("gov.yaml", []byte(in))
	require.NoError(t, err)
	require.Len(t, c.Budgets, 1)
	assert.Equal(t, "my-org", c.Budgets[0].Tenant, "a tenant's budget belongs to it")
	assert.Equal(t, "gov.yaml: budgets[0]", c.Budgets[0].Source)
	out, err := Render(c)
	require.NoError(t, err)
	assert.Contains(t, string(out), "monthly_limit_usd: 1000000")
	assert.NotContains(t, string(out), "source")
	again, err := ParseFile("again.yaml", out)
	require.NoError(t, err)
	again.Budgets[0].Source, c.Budgets[0].Source = "", ""
	assert.Equal(t, c.Budgets, again.Budgets)

	for _, bad := range []struct{ in, want string }{
		{"projects: [{name: x, colour: red}]", `unknown field "colour"`},
		{"budgets: [{scope: tenant, name: x, monthly_limit_usd: lots}]", `"budgets.monthly_limit_usd" must be float64`},
		{"wizards: []", `unknown field "wizards"`},
		{"projects: [{name: x, source: here}]", `"source" is set by the gateway`},
	} {
		_, err := ParseFile("bad.yaml", []byte(bad.in))
		assert.ErrorContains(t, err, bad.want, bad.in)
		assert.True(t, strings.HasPrefix(err.Error(), "bad.yaml"), err.Error())
	}
}
