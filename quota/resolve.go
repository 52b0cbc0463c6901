package quota

import (
	"slices"
	"strings"
)

// Scopes of limits and budgets, least specific first.
const (
	ScopeTenant  = "tenant"
	ScopeProject = "project"
	ScopeRole    = "role"
	ScopeUser    = "user"
	ScopeKey     = "key"
)

// Level is the limits set at one scope.
type Level struct {
	Scope string
	// Name names the tenant, project, role(s), user or key.
	Name   string
	Limits Limits
}

// String names the level in denials, e.g. `user "fatima"`.
func (l Level) String() string { return l.Scope + " " + quoteName(l.Name) }

func quoteName(s string) string { return "\"" + s + "\"" }

// Bound is the effective value of one numeric limit and the level that
// set it.
type Bound struct {
	Value int
	From  Level
	Set   bool
}

// Effective are the limits that apply to a request after precedence.
type Effective struct {
	bounds  [numFields]Bound
	allowed []string
	// allowedFrom set the allowed list; nil allows every backend.
	allowedFrom *Level
	blocked     map[string]Level
}

// Bound returns the effective value of a numeric limit.
func (e *Effective) Bound(f Field) Bound { return e.bounds[f] }

// Resolve applies levels, least specific first: a level's limit replaces
// the one so far when it is lower, or when the level may raise
// (Limits.Raise). Allowed-backend lists narrow the same way (a raising
// level's list replaces); blocked backends add up.
func Resolve(levels ...Level) Effective {
	e := Effective{}
	for i := range levels {
		lv := &levels[i]
		for f := Field(0); f < numFields; f++ {
			v, ok := lv.Limits.Get(f)
			if !ok {
				continue
			}
			if b := e.bounds[f]; !b.Set || v <= b.Value || lv.Limits.Raise {
				e.bounds[f] = Bound{Value: v, From: *lv, Set: true}
			}
		}
		if list := lv.Limits.AllowedBackends; list != nil {
			if e.allowedFrom == nil || lv.Limits.Raise {
				e.allowed = list
			} else {
				e.allowed = slices.DeleteFunc(slices.Clone(list), func(b string) bool { return !backendListed(e.allowed, b) })
			}
			e.allowedFrom = lv
		}
		for _, b := range lv.Limits.BlockedBackends {
			if e.blocked == nil {
				e.blocked = map[string]Level{}
			}
			if _, ok := e.blocked[b]; !ok {
				e.blocked[b] = *lv
			}
		}
	}
	return e
}

// RoleLimits are the limits of one role the caller holds.
type RoleLimits struct {
	Role   string
	Limits Limits
}

// combineRoles is the role level of a caller holding several roles in a
// project: the most permissive of them. A limit binds at this level only
// when every role sets it (then the highest value holds); allowed
// backends are the union of the roles' lists when every role has one;
// a backend is blocked only when every role blocks it.
func combineRoles(roles []RoleLimits) Level {
	lv := Level{Scope: ScopeRole}
	if len(roles) == 0 {
		return lv
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = r.Role
	}
	lv.Name = strings.Join(names, "+")
	for f := Field(0); f < numFields; f++ {
		best, all := 0, true
		for _, r := range roles {
			v, ok := r.Limits.Get(f)
			if !ok {
				all = false
				break
			}
			best = max(best, v)
		}
		if all {
			lv.Limits.Set(f, best)
		}
	}
	allowed, blocked := roles[0].Limits.AllowedBackends, roles[0].Limits.BlockedBackends
	for _, r := range roles[1:] {
		if allowed != nil && r.Limits.AllowedBackends != nil {
			for _, b := range r.Limits.AllowedBackends {
				if !slices.Contains(allowed, b) {
					allowed = append(slices.Clip(allowed), b)
				}
			}
		} else {
			allowed = nil
		}
		blocked = slices.DeleteFunc(slices.Clone(blocked), func(b string) bool { return !slices.Contains(r.Limits.BlockedBackends, b) })
	}
	lv.Limits.AllowedBackends, lv.Limits.BlockedBackends = allowed, blocked
	for _, r := range roles {
		lv.Limits.Raise = lv.Limits.Raise || r.Limits.Raise
	}
	return lv
}
