package org

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"
)

// Change is one object that differs between two organisations: added
// (Before nil), removed (After nil) or changed. Objects are compared
// without where they were declared, and instances without their upstream
// API key, which a change record must never hold.
type Change struct {
	Kind   string          `json:"kind"`
	Name   string          `json:"name"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// Snapshot is an organisation's objects by kind and name, as compared by
// Diff; it can be stored and compared with a later one.
type Snapshot map[string]json.RawMessage

// Snap takes a snapshot of a configuration.
func Snap(c Config) Snapshot {
	s := Snapshot{}
	add := func(kind, name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			delete(m, "source")
			delete(m, "api_key")
			b, _ = json.Marshal(m)
		}
		s[kind+" "+name] = b
	}
	for _, t := range c.Tenants {
		add("tenant", t.Name, t)
	}
	for _, in := range c.Instances {
		add("instance", in.Alias, in)
	}
	for _, p := range c.Projects {
		add("project", Tenant(p.Tenant)+"/"+p.Name, p)
	}
	for _, r := range c.Roles {
		add("role", r.Name, r)
	}
	for _, g := range c.AccessGroups {
		add("access_group", Tenant(g.Tenant)+"/"+g.Name, g)
	}
	for _, a := range c.Assignments {
		add("assignment", Tenant(a.Tenant)+"/"+a.User+"/"+a.Role+"/"+a.Project, a)
	}
	return s
}

// Diff lists the objects added, removed or changed from before to after,
// in order of kind and name.
func Diff(before, after Snapshot) []Change {
	var out []Change
	split := func(key string) (string, string) {
		kind, name, _ := strings.Cut(key, " ")
		return kind, name
	}
	for key, a := range after {
		if b, ok := before[key]; !ok || !bytes.Equal(a, b) {
			kind, name := split(key)
			out = append(out, Change{Kind: kind, Name: name, Before: before[key], After: a})
		}
	}
	for key, b := range before {
		if _, ok := after[key]; !ok {
			kind, name := split(key)
			out = append(out, Change{Kind: kind, Name: name, Before: b})
		}
	}
	slices.SortFunc(out, func(x, y Change) int {
		return cmp.Or(strings.Compare(x.Kind, y.Kind), strings.Compare(x.Name, y.Name))
	})
	return out
}
