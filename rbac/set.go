package rbac

import "fmt"

// Set is what a role, or several, allow: the widest scope each
// capability is held at.
type Set [numCapabilities]Scope

// Add widens the set by a grant.
func (s *Set) Add(g Grant) {
	if g.Scope > s[g.Cap] {
		s[g.Cap] = g.Scope
	}
}

// Union widens the set by another.
func (s *Set) Union(o *Set) {
	for c, sc := range o {
		if sc > s[c] {
			s[c] = sc
		}
	}
}

// Scope returns how far a capability is held; None when it is not.
func (s Set) Scope(c Capability) Scope { return s[c] }

// Has reports whether a capability is held at any scope.
func (s Set) Has(c Capability) bool { return s[c] != None }

// CapabilityName names a capability by the permission that grants it.
func CapabilityName(c Capability) string {
	for _, p := range vocabulary {
		for _, pc := range p.caps {
			if pc == c {
				return p.name
			}
		}
	}
	return fmt.Sprintf("capability(%d)", c)
}

// Permissions names what the set holds: each permission of the
// vocabulary it holds, with the widest scope of a scoped one ("own",
// "project" or "tenant") and "" for the others.
func (s Set) Permissions() map[string]string {
	out := map[string]string{}
	for _, p := range vocabulary {
		widest := None
		for _, c := range p.caps {
			widest = max(widest, s[c])
		}
		switch {
		case widest == None:
		case p.scoped:
			out[p.name] = widest.String()
		default:
			out[p.name] = ""
		}
	}
	return out
}

// Beyond returns a capability s holds more widely than held does, and
// the scope s holds it at; ok is false when held covers all of s.
func (s Set) Beyond(held Set) (c Capability, scope Scope, ok bool) {
	for c, sc := range s {
		if sc > held[c] {
			return Capability(c), sc, true
		}
	}
	return 0, None, false
}

// Describe names a capability at a scope as a permission
// ("job:cancel:tenant", "platform:manage").
func Describe(c Capability, scope Scope) string {
	for _, p := range vocabulary {
		for _, pc := range p.caps {
			if pc == c && p.scoped {
				return p.name + ":" + scope.String()
			} else if pc == c {
				return p.name
			}
		}
	}
	return fmt.Sprintf("capability(%d)", c)
}
