package governance

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/qgov/qgov/internal/strictjson"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/policy"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/rbac"
)

// Kind is one kind of governance object: how it is named, decoded and
// found in a Config.
type Kind interface {
	// Name is the kind as the API and files name it ("projects").
	Name() string
	// Global reports whether the kind's objects belong to no tenant
	// (roles, which every tenant may assign).
	Global() bool
	// decode reads one object strictly (unknown fields and wrong types
	// are errors) and names it: a missing name or tenant is taken from
	// the arguments, a different one is an error. source records where
	// the object comes from.
	decode(data []byte, tenant, name, source string) (Item, error)
	// items lists c's objects of the kind.
	items(c *Config) []Item
	// add appends an item's object to c.
	add(c *Config, it Item)
}

// Item is one object with its identity: the tenant it belongs to ("" for
// a global kind), its name within the tenant, where it was declared, and
// the object itself (a pointer to org.Project, policy.Policy, …).
type Item struct {
	Tenant string
	Name   string
	Source string
	Value  any
}

// kind implements Kind for objects of type T.
type kind[T any] struct {
	name string
	list func(*Config) *[]T
	// id names an object within its tenant; setName fills the fields
	// id reads from a name given by a route.
	id      func(*T) string
	setName func(*T, string)
	// tenant points at the object's tenant field; nil for a global kind.
	tenant func(*T) *string
	source func(*T) *string
	// fix, when set, fills fields the identity depends on.
	fix func(*T)
}

func (k kind[T]) Name() string { return k.name }
func (k kind[T]) Global() bool { return k.tenant == nil }

func (k kind[T]) item(v *T) Item {
	if k.fix != nil {
		k.fix(v)
	}
	it := Item{Name: k.id(v), Source: *k.source(v), Value: v}
	if k.tenant != nil {
		it.Tenant = org.Tenant(*k.tenant(v))
	}
	return it
}

func (k kind[T]) items(c *Config) []Item {
	list := *k.list(c)
	out := make([]Item, len(list))
	for i := range list {
		out[i] = k.item(&list[i])
	}
	return out
}

func (k kind[T]) add(c *Config, it Item) { *k.list(c) = append(*k.list(c), *it.Value.(*T)) }

func (k kind[T]) decode(data []byte, tenant, name, source string) (Item, error) {
	v := new(T)
	if err := strictjson.Decode(data, v, true); err != nil {
		return Item{}, fmt.Errorf("%s: %w", strings.TrimSuffix(k.name, "s"), err)
	}
	if *k.source(v) != "" {
		return Item{}, fmt.Errorf(`%s: "source" is set by the gateway`, strings.TrimSuffix(k.name, "s"))
	}
	if k.tenant != nil {
		switch t := k.tenant(v); {
		case *t == "":
			*t = tenant
		case org.Tenant(*t) != org.Tenant(tenant):
			return Item{}, fmt.Errorf("%s names tenant %q, not %q", strings.TrimSuffix(k.name, "s"), *t, tenant)
		}
	}
	if name != "" && k.id(v) == "" {
		k.setName(v, name)
	}
	*k.source(v) = source
	it := k.item(v)
	if it.Name == "" {
		return Item{}, fmt.Errorf("%s: a name is required", strings.TrimSuffix(k.name, "s"))
	}
	if name != "" && it.Name != name {
		return Item{}, fmt.Errorf("%s is named %q in the body and %q in the path", strings.TrimSuffix(k.name, "s"), it.Name, name)
	}
	return it, nil
}

// Decode reads one object of kind k strictly and names it, as a change
// would: a missing tenant or name is taken from the arguments.
func Decode(k Kind, data []byte, tenant, name string) (Item, error) {
	return k.decode(data, tenant, name, "")
}

// Items lists c's objects of kind k.
func Items(k Kind, c *Config) []Item { return k.items(c) }

// Spec is an item's object as JSON, without where it was declared.
func Spec(it Item) ([]byte, error) {
	b, err := json.Marshal(it.Value)
	if err != nil {
		return nil, err
	}
	return withoutSource(b), nil
}

// Kinds are every kind of governance object, in the order a Config
// lists them.
var Kinds = []Kind{
	kind[org.TenantSettings]{name: "tenants", list: func(c *Config) *[]org.TenantSettings { return &c.Tenants },
		id: func(t *org.TenantSettings) string { return t.Name }, setName: func(t *org.TenantSettings, n string) { t.Name = n },
		tenant: func(t *org.TenantSettings) *string { return &t.Name }, source: func(t *org.TenantSettings) *string { return &t.Source }},
	kind[org.Instance]{name: "instances", list: func(c *Config) *[]org.Instance { return &c.Instances },
		id: func(in *org.Instance) string { return in.Alias }, setName: func(in *org.Instance, n string) { in.Alias = n },
		tenant: func(in *org.Instance) *string { return &in.Tenant }, source: func(in *org.Instance) *string { return &in.Source }},
	kind[org.Project]{name: "projects", list: func(c *Config) *[]org.Project { return &c.Projects },
		id: func(p *org.Project) string { return p.Name }, setName: func(p *org.Project, n string) { p.Name = n },
		tenant: func(p *org.Project) *string { return &p.Tenant }, source: func(p *org.Project) *string { return &p.Source }},
	kind[rbac.RoleConfig]{name: "roles", list: func(c *Config) *[]rbac.RoleConfig { return &c.Roles },
		id: func(r *rbac.RoleConfig) string { return r.Name }, setName: func(r *rbac.RoleConfig, n string) { r.Name = n },
		source: func(r *rbac.RoleConfig) *string { return &r.Source }},
	kind[org.AccessGroup]{name: "access_groups", list: func(c *Config) *[]org.AccessGroup { return &c.AccessGroups },
		id: func(g *org.AccessGroup) string { return g.Name }, setName: func(g *org.AccessGroup, n string) { g.Name = n },
		tenant: func(g *org.AccessGroup) *string { return &g.Tenant }, source: func(g *org.AccessGroup) *string { return &g.Source }},
	kind[org.Assignment]{name: "assignments", list: func(c *Config) *[]org.Assignment { return &c.Assignments },
		id: AssignmentID, setName: func(a *org.Assignment, n string) {
			parts := strings.SplitN(n, ":", 3)
			fill(&a.User, parts, 0)
			fill(&a.Role, parts, 1)
			fill(&a.Project, parts, 2)
		},
		tenant: func(a *org.Assignment) *string { return &a.Tenant },
		source: func(a *org.Assignment) *string { return &a.Source }},
	kind[quota.Rule]{name: "limits", list: func(c *Config) *[]quota.Rule { return &c.Limits },
		id: func(r *quota.Rule) string { return scoped(r.Scope, r.Name) }, setName: func(r *quota.Rule, n string) { unscope(&r.Scope, &r.Name, n) },
		tenant: func(r *quota.Rule) *string { return &r.Tenant },
		source: func(r *quota.Rule) *string { return &r.Source }, fix: func(r *quota.Rule) { ownTenant(r.Scope, &r.Tenant, &r.Name) }},
	kind[quota.Budget]{name: "budgets", list: func(c *Config) *[]quota.Budget { return &c.Budgets },
		id: func(b *quota.Budget) string { return scoped(b.Scope, b.Name) }, setName: func(b *quota.Budget, n string) { unscope(&b.Scope, &b.Name, n) },
		tenant: func(b *quota.Budget) *string { return &b.Tenant },
		source: func(b *quota.Budget) *string { return &b.Source }, fix: func(b *quota.Budget) { ownTenant(b.Scope, &b.Tenant, &b.Name) }},
	kind[policy.Policy]{name: "policies", list: func(c *Config) *[]policy.Policy { return &c.Policies },
		id: func(p *policy.Policy) string { return p.Name }, setName: func(p *policy.Policy, n string) { p.Name = n },
		tenant: func(p *policy.Policy) *string { return &p.Tenant }, source: func(p *policy.Policy) *string { return &p.Source }},
	kind[policy.Workflow]{name: "workflows", list: func(c *Config) *[]policy.Workflow { return &c.Workflows },
		id: func(w *policy.Workflow) string { return w.Name }, setName: func(w *policy.Workflow, n string) { w.Name = n },
		tenant: func(w *policy.Workflow) *string { return &w.Tenant }, source: func(w *policy.Workflow) *string { return &w.Source }},
}

// KindOf finds a kind by name.
func KindOf(name string) (Kind, bool) {
	i := slices.IndexFunc(Kinds, func(k Kind) bool { return k.Name() == name })
	if i < 0 {
		return nil, false
	}
	return Kinds[i], true
}

// AssignmentID names an assignment within its tenant:
// "<user>:<role>" across the tenant, "<user>:<role>:<project>" in a
// project.
func AssignmentID(a *org.Assignment) string {
	if a.User == "" || a.Role == "" {
		return ""
	}
	return strings.TrimSuffix(a.User+":"+a.Role+":"+a.Project, ":")
}

// scoped names a limit or a budget: "<scope>:<name>", such as
// "user:alice" or "tenant:research-alpha".
func scoped(scope, name string) string {
	if scope == "" || name == "" {
		return ""
	}
	return scope + ":" + name
}

// unscope fills a limit's or budget's empty scope and name from
// "<scope>:<name>".
func unscope(scope, name *string, id string) {
	parts := strings.SplitN(id, ":", 2)
	fill(scope, parts, 0)
	fill(name, parts, 1)
}

// fill sets an empty field to parts[i], when there is one.
func fill(field *string, parts []string, i int) {
	if *field == "" && i < len(parts) {
		*field = parts[i]
	}
}

// ownTenant makes a tenant's limit or budget belong to the tenant it
// names.
func ownTenant(scope string, tenant, name *string) {
	if scope != quota.ScopeTenant {
		return
	}
	fill(tenant, []string{*name}, 0)
	fill(name, []string{*tenant}, 0)
}
