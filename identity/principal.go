package identity

import (
	"net/netip"
	"slices"
	"time"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/org"
)

// Principal is an authenticated caller.
type Principal struct {
	// UserID, Name and Email describe the user.
	UserID string
	Name   string
	Email  string
	// Tenant is the tenant the user acts in.
	Tenant string
	// Groups are the identity provider's groups of the user.
	Groups []string
	// AccessGroups are the access groups whose dynamic rules the user's
	// identity-provider claims matched.
	AccessGroups []string
	// KeyProjects narrow an API key to these of its owner's projects;
	// empty does not narrow.
	KeyProjects []string
	// Provider names the identity provider that vouched for the user; ""
	// for configured API keys.
	Provider string
	// KeyID identifies the API key the request was authenticated with.
	KeyID string
	// SessionID identifies the browser sign-in session, if any.
	SessionID string
	// Scopes limit an API key to these actions; nil allows every action
	// the owner holds.
	Scopes []runtimeapi.Action
	// AllowedIPs limit an API key to these client address ranges.
	AllowedIPs []netip.Prefix
	// RateLimit is an API key's requests per minute; 0 is unlimited.
	RateLimit int
	// Expires is when the credential (token or session) ends; zero for
	// API keys without expiry.
	Expires time.Time
	// MFA reports that the sign-in used a second factor.
	MFA bool
}

// Member is the caller as the organisation sees them.
func (p *Principal) Member() org.Member {
	return org.Member{Tenant: p.Tenant, User: p.UserID, Groups: p.AccessGroups, Only: p.KeyProjects}
}

// Allows reports whether the credential's scopes cover an action.
func (p *Principal) Allows(a runtimeapi.Action) bool {
	return p.Scopes == nil || slices.Contains(p.Scopes, a)
}

// Narrowed reports whether the credential is an API key narrowed to some
// actions or projects: it acts only on the Runtime API, never on
// governance objects, keys or sessions.
func (p *Principal) Narrowed() bool { return p.Scopes != nil || len(p.KeyProjects) > 0 }
