package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/qgov/qgov/org"
)

// Provider types.
const (
	// TypeOIDC is an OpenID Connect provider such as IBM App ID.
	TypeOIDC = "oidc"
	// TypeIAM accepts IBM Cloud IAM access tokens.
	TypeIAM = "iam"
)

// Clock skew tolerated on token lifetimes: the default and the bound.
const (
	defaultClockSkew = 30 * time.Second
	maxClockSkew     = 5 * time.Minute
)

// retryDiscovery is how long a failed discovery is remembered before the
// provider is asked again.
const retryDiscovery = 5 * time.Second

// asymmetricAlgs are the signing algorithms a provider may allow. HMAC
// algorithms are never accepted: with them, a provider's public key could
// be used as a shared secret to forge tokens.
var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// ProviderConfig configures an identity provider whose tokens qgov
// accepts. Several may be configured; a token goes to the provider whose
// issuer it names.
type ProviderConfig struct {
	// Name identifies the provider in sign-in URLs (/auth/login?provider=…)
	// and logs.
	Name string `json:"name"`
	// Type is "oidc" (default) or "iam" for IBM Cloud IAM access tokens.
	Type string `json:"type,omitempty"`
	// Issuer is the provider's issuer, exactly as its tokens' "iss". For
	// oidc providers it is also where discovery is read
	// (<issuer>/.well-known/openid-configuration). For iam the default is
	// "https://iam.cloud.ibm.com/identity".
	Issuer string `json:"issuer,omitempty"`
	// JWKSURL skips discovery and reads the signing keys here. For iam
	// the default is <issuer>/keys.
	JWKSURL string `json:"jwks_url,omitempty"`
	// Audiences are accepted "aud" values; a token must name one. Default:
	// the client id. iam tokens are checked by Accounts instead.
	Audiences []string `json:"audiences,omitempty"`
	// ClientID and ClientSecret are the gateway's registration at the
	// provider, for browser sign-in. Use a placeholder for the secret.
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes requested at sign-in. Default: openid, profile, email.
	Scopes []string `json:"scopes,omitempty"`
	// Algorithms allowed to sign tokens. Default RS256 and ES256. Only
	// asymmetric algorithms are accepted.
	Algorithms []string `json:"algorithms,omitempty"`
	// ClockSkewSeconds is the clock skew tolerated on exp, nbf and iat.
	// Default 30, at most 300.
	ClockSkewSeconds int `json:"clock_skew_seconds,omitempty"`
	// Tenant the provider's users act in. Default "default".
	Tenant string `json:"tenant,omitempty"`
	// Claims names the claims describing a user. Defaults: sub, name,
	// email, groups; for iam: iam_id, name, email.
	Claims ClaimMap `json:"claims,omitzero"`
	// Accounts are the IBM Cloud accounts (account.bss) whose iam tokens
	// are accepted. Required for iam.
	Accounts []string `json:"accounts,omitempty"`
	// UserPrefix starts the user ids of the provider's users, so that
	// ids from different providers never meet. Default "<name>." unless
	// Claims names the user claim (the configuration then maps ids on
	// purpose); of the providers of one tenant, at most one has none.
	UserPrefix string `json:"user_prefix,omitempty"`
}

// provider is a configured identity provider, discovered on first use.
type provider struct {
	cfg  ProviderConfig
	skew time.Duration
	ctx  context.Context // carries the HTTP client for discovery and keys

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	endpoint oauth2.Endpoint
	lastErr  error
	retryAt  time.Time

	// unreachable counts tokens not verified because the provider's
	// discovery or keys could not be fetched; refused, tokens that did
	// not verify.
	unreachable, refused atomic.Int64
}

// validate fills defaults and reports every problem.
func (c *ProviderConfig) validate() error {
	if c.Type == "" {
		c.Type = TypeOIDC
	}
	var errs []error
	if c.UserPrefix == "" && c.Claims.User == "" {
		c.UserPrefix = c.Name + "."
	}
	if c.UserPrefix != "" {
		if err := org.ValidUserID(c.UserPrefix); err != nil {
			errs = append(errs, fmt.Errorf("user_prefix: %w", err))
		}
	}
	switch c.Type {
	case TypeIAM:
		if c.Issuer == "" {
			c.Issuer = "https://iam.cloud.ibm.com/identity"
		}
		if c.JWKSURL == "" {
			c.JWKSURL = strings.TrimSuffix(c.Issuer, "/") + "/keys"
		}
		c.Claims.fill("iam_id", "name", "email")
		if len(c.Accounts) == 0 {
			errs = append(errs, errors.New("iam providers need accounts: the IBM Cloud accounts whose users are accepted"))
		}
	case TypeOIDC:
		c.Claims.fill("sub", "name", "email")
		if len(c.Audiences) == 0 && c.ClientID != "" {
			c.Audiences = []string{c.ClientID}
		}
		if len(c.Audiences) == 0 {
			errs = append(errs, errors.New("oidc providers need audiences or a client_id: tokens for other applications must not be accepted"))
		}
		if _, err := url.Parse(c.Issuer); err != nil || c.Issuer == "" {
			errs = append(errs, fmt.Errorf("issuer %q must be the provider's issuer URL", c.Issuer))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown type %q (use oidc or iam)", c.Type))
	}
	if c.Name == "" || strings.ContainsAny(c.Name, " /?&") {
		errs = append(errs, fmt.Errorf("name %q is required and may not contain spaces, '/', '?' or '&'", c.Name))
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"RS256", "ES256"}
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(asymmetricAlgs, a) {
			errs = append(errs, fmt.Errorf("algorithm %q is not allowed (allowed: %s)", a, strings.Join(asymmetricAlgs, ", ")))
		}
	}
	if c.ClockSkewSeconds < 0 || time.Duration(c.ClockSkewSeconds)*time.Second > maxClockSkew {
		errs = append(errs, fmt.Errorf("clock_skew_seconds %d must be between 0 and %d", c.ClockSkewSeconds, int(maxClockSkew.Seconds())))
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	c.Tenant = org.Tenant(c.Tenant)
	return errors.Join(errs...)
}

func newProvider(cfg ProviderConfig, client *http.Client) *provider {
	skew := defaultClockSkew
	if cfg.ClockSkewSeconds > 0 {
		skew = time.Duration(cfg.ClockSkewSeconds) * time.Second
	}
	return &provider{cfg: cfg, skew: skew, ctx: oidc.ClientContext(context.Background(), client)}
}

// ready returns the provider's verifier, running discovery the first
// time. A failed discovery is retried at most every few seconds.
func (p *provider) ready(now time.Time) (*oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.verifier != nil {
		return p.verifier, nil
	}
	if now.Before(p.retryAt) {
		return nil, p.lastErr
	}
	jwks := p.cfg.JWKSURL
	if jwks == "" {
		disc, err := oidc.NewProvider(p.ctx, p.cfg.Issuer)
		if err != nil {
			p.lastErr, p.retryAt = fmt.Errorf("identity provider %s: discovery failed: %w", p.cfg.Name, err), now.Add(retryDiscovery)
			return nil, p.lastErr
		}
		var meta struct {
			JWKS string `json:"jwks_uri"`
		}
		if err := disc.Claims(&meta); err != nil || meta.JWKS == "" {
			p.lastErr, p.retryAt = fmt.Errorf("identity provider %s: discovery has no jwks_uri", p.cfg.Name), now.Add(retryDiscovery)
			return nil, p.lastErr
		}
		jwks, p.endpoint = meta.JWKS, disc.Endpoint()
	}
	p.verifier = oidc.NewVerifier(p.cfg.Issuer, newLimitedKeySet(p.ctx, jwks, p.cfg.Algorithms), &oidc.Config{
		SkipClientIDCheck:    true, // audiences are checked against the configured list
		SkipExpiryCheck:      true, // lifetimes are checked with the configured skew
		SupportedSigningAlgs: p.cfg.Algorithms,
	})
	return p.verifier, nil
}

// verified is a token a provider has verified.
type verified struct {
	claims Claims
	token  *oidc.IDToken
	expiry time.Time
}

// verify checks a token's signature, issuer, audience and lifetime, and
// counts its failures. Its errors are fit to show the caller.
func (p *provider) verify(ctx context.Context, raw string, now time.Time) (_ *verified, err error) {
	v, err := p.ready(now)
	if err != nil {
		p.unreachable.Add(1)
		return nil, fmt.Errorf("the identity provider %s cannot be reached to verify the token; try again shortly", p.cfg.Name)
	}
	defer func() {
		if err != nil {
			p.refused.Add(1)
		}
	}()
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		if strings.Contains(err.Error(), errUnknownKey.Error()) { // go-oidc formats, not wraps, key-set errors
			return nil, errors.New("the token is " + errUnknownKey.Error())
		}
		return nil, errors.New("the token's signature is not valid for its issuer")
	}
	var c Claims
	if err := tok.Claims(&c); err != nil {
		return nil, errors.New("the token's claims are not a JSON object")
	}
	if err := p.checkLifetime(tok, c, now); err != nil {
		return nil, err
	}
	if p.cfg.Type == TypeIAM {
		if !slices.Contains(p.cfg.Accounts, c.String("account.bss")) {
			return nil, errors.New("the IAM token belongs to an IBM Cloud account this gateway does not accept")
		}
	} else if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(p.cfg.Audiences, a) }) {
		return nil, errors.New("the token was issued for another application (audience)")
	}
	if c.String(p.cfg.Claims.User) == "" {
		return nil, fmt.Errorf("the token has no %q claim to name the user", p.cfg.Claims.User)
	}
	if err := org.ValidUserID(p.cfg.UserPrefix + c.String(p.cfg.Claims.User)); err != nil {
		return nil, fmt.Errorf("the token's %q claim cannot name a user: %v", p.cfg.Claims.User, err)
	}
	return &verified{claims: c, token: tok, expiry: tok.Expiry}, nil
}

// checkLifetime requires exp, and checks exp, nbf and iat against now
// within the provider's clock skew.
func (p *provider) checkLifetime(tok *oidc.IDToken, c Claims, now time.Time) error {
	switch {
	case tok.Expiry.IsZero():
		return errors.New("the token has no expiry")
	case now.After(tok.Expiry.Add(p.skew)):
		return errors.New("the token has expired")
	case tok.IssuedAt.After(now.Add(p.skew)):
		return errors.New("the token is issued in the future")
	}
	if nbf, ok := c["nbf"].(float64); ok && time.Unix(int64(nbf), 0).After(now.Add(p.skew)) {
		return errors.New("the token is not valid yet")
	}
	return nil
}

// principal describes the token's user, with the access groups whose
// rules the token's claims match. The user's email is taken only when
// the provider says it verified it (email_verified): approvers match by
// email, and mail goes to it.
func (p *provider) principal(v *verified, dir *org.Directory) *Principal {
	c, m := v.claims, p.cfg.Claims
	email := ""
	if verified, _ := c.Lookup("email_verified"); verified == true || verified == "true" {
		email = c.String(m.Email)
	}
	pr := &Principal{
		UserID: p.cfg.UserPrefix + c.String(m.User), Name: c.String(m.Name), Email: email,
		Tenant: p.cfg.Tenant, Groups: c.Strings(m.Groups), Provider: p.cfg.Name, Expires: v.expiry, MFA: hasMFA(c),
	}
	pr.AccessGroups = dir.DynamicGroups(p.cfg.Tenant, p.cfg.Name, c)
	return pr
}

// secondFactors are the amr values (RFC 8176) that show a second factor.
var secondFactors = []string{"mfa", "otp", "hwk", "swk", "sms", "tel", "fpt", "face", "iris", "retina", "vbm"}

// hasMFA reports whether the claims show a second factor, in amr or in
// an acr naming mfa.
func hasMFA(c Claims) bool {
	for _, a := range c.Strings("amr") {
		if slices.Contains(secondFactors, a) {
			return true
		}
	}
	return slices.Contains(org.Words(strings.ToLower(c.String("acr"))), "mfa")
}
