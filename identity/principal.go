package identity

import (
	"net/netip"
	"slices"
	"time"

	"github.com/qgov/qgov/runtimeapi"
)

// Principal is an authenticated caller.
type Principal struct {
	// UserID, Name and Email describe the user.
	UserID string
	Name   string
	Email  string
	// Tenant is the tenant the user acts in.
	Tenant string
	// Projects the user belongs to, the first being the default.
	Projects []string
	// Groups are the identity provider's groups of the user.
	Groups []string
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

// Allows reports whether the credential's scopes cover an action.
func (p *Principal) Allows(a runtimeapi.Action) bool {
	return p.Scopes == nil || slices.Contains(p.Scopes, a)
}
