// Package appid is a stand-in for IBM Cloud App ID: an OpenID Connect
// provider with discovery, a JWKS that can rotate, a login page for the
// authorization-code flow (with PKCE), and the password and
// client-credentials grants for scripts and tests. Users carry custom
// attributes, such as "project", that appear in their tokens as App ID
// puts them there.
package appid

import (
	"errors"
	"fmt"
	"net/url"
)

// Config configures a Provider. Default returns the demo configuration.
type Config struct {
	// TenantID is App ID's tenant: the provider is served under
	// /oauth/v4/<TenantID>. Default "qgovdemo".
	TenantID string `json:"tenant_id,omitempty"`
	// Issuer is the public URL of the provider, the "iss" of its tokens.
	// Default: derived from each request as
	// <scheme>://<host>/oauth/v4/<TenantID>.
	Issuer string `json:"issuer,omitempty"`
	// Algorithm signs tokens: "RS256" (default) or "ES256".
	Algorithm string `json:"algorithm,omitempty"`
	// TokenTTLSeconds is the lifetime of issued tokens. Default 3600.
	TokenTTLSeconds int `json:"token_ttl_seconds,omitempty"`
	// Clients are the registered applications.
	Clients []Client `json:"clients,omitempty"`
	// Users may sign in with a password.
	Users []User `json:"users,omitempty"`
}

// Client is a registered application.
type Client struct {
	// ID and Secret authenticate the client at the token endpoint.
	ID     string `json:"id"`
	Secret string `json:"secret"`
	// RedirectURIs the client may use, matched exactly. Empty allows any
	// loopback URI (http://127.0.0.1:<port>/…, http://localhost:<port>/…),
	// as RFC 8252 does for native apps.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
}

// User is a person who can sign in.
type User struct {
	// Username and Password are typed on the login page or sent in the
	// password grant.
	Username string `json:"username"`
	Password string `json:"password"`
	// Name and Email are standard claims. The subject is "appid-<Username>".
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// Attributes are custom attributes put in the user's tokens, for
	// example {"project": "ml finance"}.
	Attributes map[string]any `json:"attributes,omitempty"`
	// MFA marks users who sign in with a second factor: their tokens carry
	// amr ["pwd", "mfa"] and acr "mfa"; others carry amr ["pwd"].
	MFA bool `json:"mfa,omitempty"`
}

// Demo identifiers.
const (
	DemoTenantID     = "qgovdemo"
	DemoClientID     = "qgov-gateway"
	DemoClientSecret = "demo-oidc-secret"
)

// Default returns the demo configuration: the demo scenario's users, each
// with the password "<username>-demo" and a "project" attribute.
func Default() Config {
	var c Config
	c.applyDefaults()
	return c
}

// demoUsers are the demo scenario's people. chen belongs to "chemlab",
// whose name contains "ml" but which is not the ml project.
var demoUsers = []struct {
	name, full, project string
	mfa                 bool
}{
	{"fatima", "Fatima Khan", "ml", false},
	{"ravi", "Ravi Patel", "finance", false},
	{"amyra", "Amyra Singh", "ml finance", false},
	{"chen", "Chen Wei", "chemlab", false},
	{"admin", "Org Admin", "ml finance", true},
}

func (c *Config) applyDefaults() {
	if c.TenantID == "" {
		c.TenantID = DemoTenantID
	}
	if c.Algorithm == "" {
		c.Algorithm = "RS256"
	}
	if c.TokenTTLSeconds == 0 {
		c.TokenTTLSeconds = 3600
	}
	if len(c.Clients) == 0 {
		c.Clients = []Client{{ID: DemoClientID, Secret: DemoClientSecret}}
	}
	if len(c.Users) == 0 {
		for _, u := range demoUsers {
			c.Users = append(c.Users, User{
				Username: u.name, Password: u.name + "-demo", Name: u.full,
				Email: u.name + "@example.com", Attributes: map[string]any{"project": u.project}, MFA: u.mfa,
			})
		}
	}
}

// validate reports every problem of a configuration with defaults filled.
func (c *Config) validate() error {
	var errs []error
	if c.Algorithm != "RS256" && c.Algorithm != "ES256" {
		errs = append(errs, fmt.Errorf("algorithm %q: use RS256 or ES256", c.Algorithm))
	}
	if c.Issuer != "" {
		if u, err := url.Parse(c.Issuer); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("issuer %q is not an http(s) URL", c.Issuer))
		}
	}
	if c.TokenTTLSeconds < 0 {
		errs = append(errs, errors.New("token_ttl_seconds must not be negative"))
	}
	seen := map[string]bool{}
	for _, cl := range c.Clients {
		if cl.ID == "" || cl.Secret == "" || seen["c/"+cl.ID] {
			errs = append(errs, fmt.Errorf("client %q: id and secret are required and ids unique", cl.ID))
		}
		seen["c/"+cl.ID] = true
	}
	for _, u := range c.Users {
		if u.Username == "" || u.Password == "" || seen["u/"+u.Username] {
			errs = append(errs, fmt.Errorf("user %q: username and password are required and usernames unique", u.Username))
		}
		seen["u/"+u.Username] = true
	}
	return errors.Join(errs...)
}
