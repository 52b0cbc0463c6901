package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/store"
)

// loginCookie binds a sign-in in progress to the browser that started it.
const loginCookie = "qgov_login"

// loginTTL is how long a started sign-in may be completed.
const loginTTL = 10 * time.Minute

// pendingLogin is a started sign-in, kept server-side under its state.
type pendingLogin struct {
	Provider string `json:"provider"`
	Verifier string `json:"verifier"`
	Nonce    string `json:"nonce"`
	ReturnTo string `json:"return_to"`
}

// oauth returns the provider's OAuth 2.0 client for a callback URL.
func (p *provider) oauth(redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: p.endpoint,
		RedirectURL: redirect, Scopes: p.cfg.Scopes,
	}
}

// callbackURL is where the provider sends the browser back.
func (a *Authenticator) callbackURL(r *http.Request) string {
	if a.PublicURL != "" {
		return strings.TrimSuffix(a.PublicURL, "/") + "/auth/callback"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/auth/callback"
}

// defaultReturn is where sign-in and sign-out lead without a return_to.
const defaultReturn = "/auth/whoami"

// safeReturn checks a return_to: only a path of this site, which a
// browser cannot read as another site's address. It must start with a
// single '/' and hold no backslash, control character or scheme; "" is
// the default.
func safeReturn(s string) (string, error) {
	if s == "" {
		return defaultReturn, nil
	}
	bad := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' || unicode.IsSpace(r) }) >= 0
	u, err := url.Parse(s)
	if bad || err != nil || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "", denial.Newf("invalid_return_to",
			"return_to %q is not a path of this site: it must start with one '/' and hold no backslash, space or control character", s)
	}
	return s, nil
}

// setCookie sets an HttpOnly, SameSite=Lax cookie, Secure behind TLS.
func setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, expires time.Time) {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil}
	if expires.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

// login starts the authorization-code flow with PKCE.
func (a *Authenticator) login(w http.ResponseWriter, r *http.Request) error {
	prov, err := a.Providers.signIn(r.URL.Query().Get("provider"))
	if err != nil {
		return denial.New("unknown_provider", err.Error())
	}
	now := a.Now()
	if _, err := prov.ready(now); err != nil {
		return denial.New("identity_unavailable", err.Error())
	}
	returnTo, err := safeReturn(r.URL.Query().Get("return_to"))
	if err != nil {
		return err
	}
	state := rand.Text()
	pl := pendingLogin{Provider: prov.cfg.Name, Verifier: oauth2.GenerateVerifier(), Nonce: rand.Text(), ReturnTo: returnTo}
	raw, _ := json.Marshal(pl)
	if err := a.Sessions.st.Put(r.Context(), signinBucket, "l/"+state, raw, loginTTL); err != nil {
		return unavailable(err)
	}
	setCookie(w, r, loginCookie, state, "/auth/", now.Add(loginTTL))
	target := prov.oauth(a.callbackURL(r)).AuthCodeURL(state, oauth2.S256ChallengeOption(pl.Verifier), oidc.Nonce(pl.Nonce))
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// errSignIn is the answer to a callback that does not complete a sign-in
// this browser started: it says what to do without saying which check
// failed.
var errSignIn = denial.New("signin_failed",
	"the sign-in could not be completed (it expired, was already used, or was started elsewhere); start again at /auth/login")

// callback completes a sign-in: it checks the state against the browser's
// cookie and the pending sign-in, redeems the code with the PKCE
// verifier, verifies the ID token and its nonce, and starts a session.
func (a *Authenticator) callback(w http.ResponseWriter, r *http.Request, ip string) (*Principal, error) {
	ctx, now, q := r.Context(), a.Now(), r.URL.Query()
	if e := q.Get("error"); e != "" {
		return nil, denial.New("signin_refused", fmt.Sprintf("the identity provider refused the sign-in: %.200s", e))
	}
	state := q.Get("state")
	c, err := r.Cookie(loginCookie)
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		return nil, errSignIn
	}
	setCookie(w, r, loginCookie, "", "/auth/", time.Time{})
	raw, err := a.Sessions.st.Get(ctx, signinBucket, "l/"+state)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errSignIn
	} else if err != nil {
		return nil, unavailable(err)
	}
	_ = a.Sessions.st.Delete(ctx, signinBucket, "l/"+state) // a state is used once
	var pl pendingLogin
	prov := (*provider)(nil)
	if json.Unmarshal(raw, &pl) == nil {
		prov = a.Providers.byName[pl.Provider]
	}
	if prov == nil {
		return nil, errSignIn
	}
	tok, err := prov.oauth(a.callbackURL(r)).Exchange(prov.ctxFor(ctx), q.Get("code"), oauth2.VerifierOption(pl.Verifier))
	if err != nil {
		return nil, errSignIn
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, denial.New("signin_failed", "the identity provider returned no ID token")
	}
	v, err := prov.verify(ctx, rawID, now)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(v.token.Nonce), []byte(pl.Nonce)) != 1 {
		return nil, errSignIn
	}
	p := prov.principal(v, a.Directory.Load())
	settings := a.Directory.Load().Settings(p.Tenant)
	if settings.MFARequired && !p.MFA {
		return p, denial.New("mfa_required",
			fmt.Sprintf("tenant %s requires multi-factor sign-in; sign in with a second factor", p.Tenant))
	}
	secret, s, err := a.Sessions.Create(ctx, Session{
		Tenant: p.Tenant, User: p.UserID, Name: p.Name, Email: p.Email, Provider: p.Provider, AccessGroups: p.AccessGroups,
		Groups: p.Groups, MFA: p.MFA, Expires: now.Add(settings.SessionMax()), IdleSeconds: settings.SessionIdleSeconds,
		IP: ip, UserAgent: truncate(r.UserAgent(), 200),
	}, now)
	if err != nil {
		return p, err
	}
	p.Expires, p.SessionID = s.Expires, s.ID
	if err := a.Users.Observe(ctx, p, now); err != nil {
		return p, err
	}
	setCookie(w, r, SessionCookie, secret, "/", s.Expires)
	http.Redirect(w, r, pl.ReturnTo, http.StatusFound)
	return p, nil
}

// ctxFor carries the provider's HTTP client into a request context.
func (p *provider) ctxFor(ctx context.Context) context.Context {
	if c, ok := p.ctx.Value(oauth2.HTTPClient).(*http.Client); ok {
		return context.WithValue(ctx, oauth2.HTTPClient, c)
	}
	return ctx
}

// logoutPage asks a browser that followed a link to /auth/logout to
// confirm: a GET changes nothing, so another site cannot sign a user out.
var logoutPage = template.Must(template.New("logout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign out</title></head>
<body><main><h1>Sign out of qgov?</h1>
<form method="post" action="/auth/logout?return_to={{.}}"><button type="submit">Sign out</button></form>
</main></body></html>
`))

// confirmLogout answers GET /auth/logout with the confirmation form.
func (a *Authenticator) confirmLogout(w http.ResponseWriter, r *http.Request) error {
	returnTo, err := safeReturn(r.URL.Query().Get("return_to"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	return logoutPage.Execute(w, returnTo)
}

// logout ends the browser's session and clears its cookie: a POST, which
// a request from another site may not make.
func (a *Authenticator) logout(w http.ResponseWriter, r *http.Request) (*Principal, error) {
	var p *Principal
	var s Session
	c, err := r.Cookie(SessionCookie)
	if err == nil {
		if s, err = a.Sessions.Resolve(r.Context(), c.Value, a.Now()); err == nil {
			p = s.principal()
		}
	}
	if err := csrf.Check(r); err != nil {
		return p, denial.New("cross_origin",
			"sign-out was asked from another site; sign out from this site's own page")
	}
	returnTo, rerr := safeReturn(r.URL.Query().Get("return_to"))
	if rerr != nil {
		return p, rerr
	}
	if p != nil {
		if err := a.Sessions.End(r.Context(), s); err != nil {
			return p, err
		}
	}
	setCookie(w, r, SessionCookie, "", "/", time.Time{})
	if r.URL.Query().Get("return_to") != "" {
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
		return p, nil
	}
	runtimeapi.WriteJSON(w, http.StatusOK, map[string]bool{"signed_out": true})
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
