package appid

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// maxKeys is how many signing keys the JWKS publishes: the current one
// and those it replaced, so tokens they signed still verify.
const maxKeys = 3

// Provider is an App ID tenant: an http.Handler serving the OIDC
// endpoints under /oauth/v4/<TenantID>.
type Provider struct {
	cfg     Config
	base    string // /oauth/v4/<tenant>
	now     func() time.Time
	clients map[string]Client
	users   map[string]User
	mux     *http.ServeMux

	mu    sync.Mutex
	keys  []jose.JSONWebKey // newest first
	codes map[string]grant  // authorization code → grant
}

// Option customises a Provider.
type Option func(*Provider)

// WithClock replaces the wall clock (for tests of token lifetimes).
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// New validates cfg (after filling defaults) and returns a Provider with
// a fresh signing key.
func New(cfg Config, opts ...Option) (*Provider, error) {
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("invalid App ID config: %w", err)
	}
	p := &Provider{
		cfg: cfg, base: "/oauth/v4/" + cfg.TenantID, now: time.Now,
		clients: map[string]Client{}, users: map[string]User{}, codes: map[string]grant{},
	}
	for _, o := range opts {
		o(p)
	}
	for _, c := range cfg.Clients {
		p.clients[c.ID] = c
	}
	for _, u := range cfg.Users {
		p.users[u.Username] = u
	}
	if err := p.Rotate(); err != nil {
		return nil, err
	}
	p.routes()
	return p, nil
}

// BasePath is the path the provider is served under.
func (p *Provider) BasePath() string { return p.base }

func (p *Provider) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET "+p.base+"/.well-known/openid-configuration", p.handleDiscovery)
	m.HandleFunc("GET "+p.base+"/publickeys", p.handleKeys)
	m.HandleFunc("GET "+p.base+"/authorization", p.handleLoginPage)
	m.HandleFunc("POST "+p.base+"/authorization", p.handleLogin)
	m.HandleFunc("POST "+p.base+"/token", p.handleToken)
	p.mux = m
}

// ServeHTTP implements http.Handler.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// Rotate makes a new signing key current. The keys it replaces stay in
// the JWKS, up to three in all.
func (p *Provider) Rotate() error {
	var key crypto.Signer
	var err error
	if p.cfg.Algorithm == "ES256" {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return fmt.Errorf("generating App ID signing key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: key, Algorithm: p.cfg.Algorithm, Use: "sig"}
	pub := jwk.Public()
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return fmt.Errorf("the App ID key id: %w", err)
	}
	jwk.KeyID = hex.EncodeToString(thumb[:8])
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append([]jose.JSONWebKey{jwk}, p.keys...)
	if len(p.keys) > maxKeys {
		p.keys = p.keys[:maxKeys]
	}
	return nil
}

// issuer returns the provider's issuer URL as seen by r.
func (p *Provider) issuer(r *http.Request) string {
	if p.cfg.Issuer != "" {
		return strings.TrimSuffix(p.cfg.Issuer, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + p.base
}

func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	iss := p.issuer(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/authorization",
		"token_endpoint":                        iss + "/token",
		"jwks_uri":                              iss + "/publickeys",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "password", "client_credentials"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{p.cfg.Algorithm},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"openid", "profile", "email"},
		"claims_supported":                      []string{"sub", "name", "email", "amr", "acr", "nonce"},
	})
}

func (p *Provider) handleKeys(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range p.keys {
		set.Keys = append(set.Keys, k.Public())
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

// Sign signs any claims with the current key, as the provider's own
// tokens are signed; tests use it to mint tokens with chosen claims.
func (p *Provider) Sign(claims map[string]any) (string, error) {
	p.mu.Lock()
	key := p.keys[0]
	p.mu.Unlock()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("the App ID signer: %w", err)
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// randomID returns a random URL-safe identifier.
func randomID() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// s256 is the PKCE S256 transform of a verifier.
func s256(verifier string) []byte {
	sum := sha256.Sum256([]byte(verifier))
	return sum[:]
}
