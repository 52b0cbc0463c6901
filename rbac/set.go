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
