package identity

import (
	"github.com/qgov/qgov/audit"

	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/iam"
	"github.com/qgov/qgov/org"
)

// SessionCookie holds a browser sign-in session.
const SessionCookie = "qgov_session"

// maxTokenBytes bounds bearer tokens; larger ones are refused unparsed.
const maxTokenBytes = 16 << 10

// Authenticator decides who is calling: by bearer token (qgov's own, or
// an identity provider's), by API key, or by sign-in session cookie.
type Authenticator struct {
	// Keys are the API keys declared in configuration.
	Keys *KeyRing
	// UserKeys are the API keys users created for themselves.
	UserKeys *UserKeys
	// Tokens signs and verifies qgov's access tokens.
	Tokens *iam.Signer
	// Providers are the identity providers whose tokens are accepted.
	Providers *Providers
	// Sessions are the browser sign-in sessions; Users the records of
	// identity-provider users.
	Sessions  *Sessions
	Users     *Users
	Directory *org.Current
	// PublicURL is the gateway's external URL, for the sign-in callback.
	// Default: the scheme and host of each request.
	PublicURL string
	// Logger records why a credential could not be checked (store
	// failures), which the caller is not told.
	Logger *slog.Logger
	Now    func() time.Time

	tokens cache[tokenInfo] // verified bearer tokens until they expire
}

// tokenInfo is what a verified bearer token says.
type tokenInfo struct {
	keyID    string     // qgov token: the API key it was issued for
	user     *Principal // identity-provider token: its user
	issuedAt time.Time
}

// unavailableError marks a failure to read what a credential depends on
// from the store, as opposed to a credential that is wrong.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

func unavailable(err error) error { return &unavailableError{err} }

// Authenticate reads the Authorization header ("Bearer <token>" or
// "apikey <key>", the Qiskit client's fallback) or, without one, the
// session cookie. Every request re-checks what the credential depends on
// (the key, the session, the user's sign-out time), each read from the
// store at most every few seconds per replica.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, *denial.Denial) {
	ctx, now := r.Context(), a.Now()
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	var p *Principal
	var err error
	switch {
	case h == "":
		c, cerr := r.Cookie(SessionCookie)
		if cerr != nil {
			return nil, unauthorized("missing Authorization header: send \"Bearer <access token>\" from POST /identity/token, or sign in at /auth/login")
		}
		if err := csrf.Check(r); err != nil {
			return nil, denial.New("cross_origin",
				"a request from another site may not use the sign-in session cookie")
		}
		p, err = a.session(ctx, c.Value, now)
	case strings.EqualFold(scheme, "Bearer") && cred != "":
		p, err = a.bearer(ctx, cred, now)
	case strings.EqualFold(scheme, "apikey") && cred != "":
		p, err = a.apiKey(ctx, cred, now)
	default:
		err = errors.New("the Authorization header must be \"Bearer <token>\" or \"apikey <key>\"")
	}
	return p, a.denial(err)
}

// denial turns an authentication error into the answer for the caller,
// logging store failures.
func (a *Authenticator) denial(err error) *denial.Denial {
	if err == nil {
		return nil
	}
	var api *denial.Denial
	var un *unavailableError
	switch {
	case errors.As(err, &api):
		return api
	case errors.As(err, &un):
		if a.Logger != nil {
			a.Logger.Error("credential check failed", "error", un.err)
		}
		return denial.New("identity_unavailable",
			"the credential cannot be checked right now (the gateway's store is unavailable); try again shortly")
	}
	return unauthorized(err.Error())
}

func (a *Authenticator) bearer(ctx context.Context, raw string, now time.Time) (*Principal, error) {
	if len(raw) > maxTokenBytes {
		return nil, fmt.Errorf("the bearer token is larger than %d bytes", maxTokenBytes)
	}
	t, ok := a.tokens.get(raw, now)
	if !ok {
		var until time.Time
		var err error
		if t, until, err = a.verifyToken(ctx, raw, now); err != nil {
			return nil, err
		}
		a.tokens.put(raw, t, until)
	}
	if t.keyID != "" {
		return a.keyPrincipal(ctx, t.keyID, now)
	}
	p := *t.user
	return &p, a.checkUser(ctx, &p, t.issuedAt, now)
}

// verifyToken verifies a token with its issuer: qgov itself or a
// configured identity provider. It returns what the token says and until
// when that may be cached.
func (a *Authenticator) verifyToken(ctx context.Context, raw string, now time.Time) (tokenInfo, time.Time, error) {
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return tokenInfo{}, time.Time{}, err
	}
	if iss == a.Tokens.Issuer() {
		id, err := a.Tokens.Verify(raw, now)
		if err != nil {
			return tokenInfo{}, time.Time{}, err
		}
		return tokenInfo{keyID: id.KeyID}, id.Expiry.Add(iam.Leeway), nil
	}
	prov := a.Providers.byIssuerOf(iss)
	if prov == nil {
		if len(iss) > 120 {
			iss = iss[:120] + "…"
		}
		return tokenInfo{}, time.Time{}, fmt.Errorf("tokens issued by %q are not accepted by this gateway", iss)
	}
	v, err := prov.verify(ctx, raw, now)
	if err != nil {
		return tokenInfo{}, time.Time{}, err
	}
	return tokenInfo{user: prov.principal(v, a.Directory.Load()), issuedAt: v.token.IssuedAt}, v.expiry.Add(prov.skew), nil
}

// unverifiedIssuer reads a compact JWT's "iss" to pick its verifier.
func unverifiedIssuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("the bearer token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Iss string `json:"iss"`
	}
	if err != nil || json.Unmarshal(payload, &c) != nil || c.Iss == "" {
		return "", errors.New("the bearer token is not a JWT with an issuer")
	}
	return c.Iss, nil
}

// checkUser applies what holds for every credential of an identity
// provider's user: the tenant's MFA requirement and the user's sign-out
// time. It records the access groups the credential makes the user a
// member of.
func (a *Authenticator) checkUser(ctx context.Context, p *Principal, issued, now time.Time) error {
	if a.Directory.Load().Settings(p.Tenant).MFARequired && !p.MFA {
		return denial.New("mfa_required",
			fmt.Sprintf("tenant %s requires multi-factor sign-in; sign in again with a second factor", p.Tenant))
	}
	rec, err := a.Users.Get(ctx, p.Tenant, p.UserID, now)
	if err != nil {
		return err
	}
	if issued.Before(rec.NotBefore) {
		return fmt.Errorf("user %s was signed out at %s; sign in again", p.UserID, rec.NotBefore.UTC().Format(time.RFC3339))
	}
	// A failure to record is not the caller's: the credential is valid.
	_ = a.Users.Observe(ctx, p, now)
	return nil
}

func (a *Authenticator) session(ctx context.Context, secret string, now time.Time) (*Principal, error) {
	s, err := a.Sessions.Resolve(ctx, secret, now)
	if err != nil {
		return nil, err
	}
	p := s.principal()
	return p, a.checkUser(ctx, p, s.Created, now)
}

func (a *Authenticator) apiKey(ctx context.Context, secret string, now time.Time) (*Principal, error) {
	if !strings.HasPrefix(secret, KeyPrefix) {
		p, ok := a.Keys.Lookup(secret)
		if !ok {
			return nil, errors.New("the API key is not valid")
		}
		return p, nil
	}
	k, err := a.UserKeys.Lookup(ctx, secret, now)
	if err != nil {
		return nil, err
	}
	return a.keyPrincipal(ctx, k.ID, now)
}

// keyPrincipal is the caller an API key stands for now. A self-service
// key acts for its owner with no more than the owner holds at this
// moment, narrowed by the key's own projects and scopes.
func (a *Authenticator) keyPrincipal(ctx context.Context, id string, now time.Time) (*Principal, error) {
	if p, ok := a.Keys.byID[id]; ok {
		return p, nil
	}
	k, err := a.UserKeys.Get(ctx, id, now)
	if err != nil {
		if errors.Is(err, ErrKeyNotFound) {
			return nil, errors.New("the API key this token was issued for has been revoked")
		}
		return nil, err
	}
	if err := k.usable(now); err != nil {
		return nil, err
	}
	owner, err := a.Users.Get(ctx, k.Tenant, k.Owner, now)
	if err != nil {
		return nil, err
	}
	allowed, _ := org.ParsePrefixes(k.AllowedIPs) // validated at creation
	p := &Principal{
		UserID: k.Owner, Name: owner.Name, Email: owner.Email, Tenant: k.Tenant, AccessGroups: owner.AccessGroupsAt(now),
		KeyProjects: k.Projects, Provider: owner.Provider, KeyID: k.ID, Scopes: k.Scopes, AllowedIPs: allowed, RateLimit: k.RateLimit, Expires: k.Expires,
	}
	if a.Directory.Load().Access(p.Member(), now).Empty() {
		return nil, denial.New("key_owner_inactive", fmt.Sprintf(
			"API key %s acts for %s, who holds no role in the key's projects now: the sign-in that made them a member ended at %s; the owner must sign in again",
			k.ID, k.Owner, owner.AccessUntil.UTC().Format(time.RFC3339)))
	}
	_ = a.UserKeys.Touch(ctx, k.ID, now)
	return p, nil
}

// IssueToken answers POST /identity/token: the API-key grant, with a qgov
// access token for the key. The key's address restrictions apply here too.
func (a *Authenticator) IssueToken(w http.ResponseWriter, r *http.Request, client netip.Addr) Event {
	ev := Event{Action: audit.ActionToken}
	fail := func(status int, code, reason string) Event {
		ev.Code, ev.Reason = code, reason
		iam.WriteError(w, status, code, reason)
		return ev
	}
	secret, ok := iam.ReadAPIKeyGrant(w, r)
	if !ok {
		ev.Code, ev.Reason = "BXNIM0109E", "the request is not a well-formed API-key grant"
		return ev
	}
	p, err := a.apiKey(r.Context(), secret, a.Now())
	if err != nil {
		var un *unavailableError
		if errors.As(err, &un) {
			return fail(http.StatusUnauthorized, "BXNIM0400E", "the API key cannot be checked right now; try again shortly")
		}
		return fail(http.StatusBadRequest, "BXNIM0415E", "Provided API key could not be found.")
	}
	ev.Principal = p
	ev.object("api_key", p.KeyID)
	if _, denied := a.CheckAddress(p, client); denied != nil {
		return fail(http.StatusForbidden, "BXNIM0513E", denied.Message)
	}
	a.Tokens.WriteToken(w, iam.Identity{IAMID: p.UserID, KeyID: p.KeyID, Account: p.Tenant, Name: p.Name, Email: p.Email}, a.Now())
	return ev
}

func unauthorized(msg string) *denial.Denial {
	return denial.New("unauthorized", msg)
}
