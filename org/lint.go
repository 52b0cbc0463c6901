package org

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Finding is a lint warning about the organisation: legal, but likely a
// mistake.
type Finding struct {
	// Kind is substring, dangling, unheld_role or unreachable_instance.
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Lint reviews the organisation. providers maps each configured identity
// provider to its tenant, to check what rules refer to.
func (d *Directory) Lint(providers map[string]string) []Finding {
	var out []Finding
	add := func(kind, format string, args ...any) {
		out = append(out, Finding{kind, fmt.Sprintf(format, args...)})
	}
	// Claim values compared by IBM's "contains" must not be substrings of
	// one another; qgov compares exactly, but the IdP attributes outlive
	// the gateway.
	values := map[string][]string{} // claim → values
	for _, g := range d.ruled {
		for _, r := range g.Rules {
			values[r.Claim] = appendNew(values[r.Claim], append([]string{r.Value}, r.Values...)...)
		}
	}
	for _, claim := range sortedKeys(values) {
		for _, pair := range substrings(values[claim]) {
			add("substring", "claim %s: value %q is a substring of %q; an IdP rule comparing with \"contains\" would match both", claim, pair[0], pair[1])
		}
	}
	byTenant := map[string][]string{}
	for _, p := range d.ordered {
		byTenant[p.Tenant] = append(byTenant[p.Tenant], p.Name)
	}
	for _, t := range sortedKeys(byTenant) {
		for _, pair := range substrings(byTenant[t]) {
			add("substring", "tenant %s: project name %q is a substring of %q", t, pair[0], pair[1])
		}
	}
	held := d.heldRoles()
	for _, pair := range substrings(held) {
		add("substring", "role name %q is a substring of %q", pair[0], pair[1])
	}
	for _, g := range d.groupList {
		if len(g.Members) == 0 && len(g.Rules) == 0 {
			add("dangling", "%s has no members and no rules: nobody is in it", where("access group", g.Name, g.Source))
		}
		for _, r := range g.Rules {
			if t, ok := providers[r.Provider]; ok && t != g.Tenant {
				add("dangling", "%s: a rule names identity provider %q of tenant %q; it never matches in tenant %q", where("access group", g.Name, g.Source), r.Provider, t, g.Tenant)
			}
		}
	}
	for _, c := range d.cfg.Roles {
		if !slices.Contains(held, c.Name) {
			add("unheld_role", "%s is held by nobody: no access group or assignment gives it, nor a role inheriting it", where("role", c.Name, c.Source))
		}
	}
	reached := map[*Instance]bool{}
	for _, gs := range []map[string][]*grant{d.static, d.dynamic} {
		for _, list := range gs {
			for _, g := range list {
				for _, in := range g.reach {
					reached[in] = true
				}
			}
		}
	}
	for _, in := range d.instances {
		if !reached[in] {
			add("unreachable_instance", "%s is reachable by nobody: no access group or assignment gives a role in a project that uses it", where("instance", in.Alias, in.Source))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// heldRoles lists the roles some group or assignment gives, with the
// roles they inherit.
func (d *Directory) heldRoles() []string {
	var todo []string
	for _, g := range d.groupList {
		todo = append(todo, g.Roles...)
	}
	for _, a := range d.assigns {
		todo = append(todo, a.Role)
	}
	var out []string
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if slices.Contains(out, name) {
			continue
		}
		out = append(out, name)
		if r := d.roles.Get(name); r != nil {
			todo = append(todo, r.Inherits...)
		}
	}
	slices.Sort(out)
	return out
}

// substrings returns the pairs of distinct values one of which contains
// the other.
func substrings(list []string) [][2]string {
	var out [][2]string
	for _, a := range list {
		for _, b := range list {
			if a != "" && a != b && strings.Contains(b, a) {
				out = append(out, [2]string{a, b})
			}
		}
	}
	return out
}

func appendNew(list []string, vs ...string) []string {
	for _, v := range vs {
		if v != "" && !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
