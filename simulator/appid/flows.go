package appid

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"time"
)

// codeTTL is how long an authorization code may be redeemed.
const codeTTL = time.Minute

// grant is an authorization code's pending sign-in.
type grant struct {
	client, redirectURI string
	user                User
	nonce, challenge    string
	expires             time.Time
}

// authRequest is the authorization request carried by the login page.
type authRequest struct {
	ClientID, RedirectURI, State, Nonce, Challenge, Method, Scope string
	Error                                                         string
}

func readAuthRequest(r *http.Request) authRequest {
	f := r.Form
	return authRequest{
		ClientID: f.Get("client_id"), RedirectURI: f.Get("redirect_uri"), State: f.Get("state"),
		Nonce: f.Get("nonce"), Challenge: f.Get("code_challenge"), Method: f.Get("code_challenge_method"), Scope: f.Get("scope"),
	}
}

// check validates the client, redirect URI and PKCE parameters. Errors
// are shown on the page, never sent to an unverified redirect URI.
func (p *Provider) check(r *http.Request, a authRequest) string {
	c, ok := p.clients[a.ClientID]
	switch {
	case r.Form.Get("response_type") != "code":
		return "response_type must be code"
	case !ok:
		return "unknown client_id"
	case !redirectAllowed(c, a.RedirectURI):
		return "redirect_uri is not registered for this client"
	case a.Challenge != "" && a.Method != "S256":
		return "code_challenge_method must be S256"
	}
	return ""
}

// redirectAllowed matches a redirect URI exactly against the client's, or
// accepts any loopback URI when the client registers none.
func redirectAllowed(c Client, uri string) bool {
	if len(c.RedirectURIs) > 0 {
		return slices.Contains(c.RedirectURIs, uri)
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Fragment != "" {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · App ID</title>
<style>body{font-family:sans-serif;max-width:22rem;margin:4rem auto}label,input,button{display:block;width:100%;margin:.4rem 0}.error{color:#a00}</style>
</head><body><h1>Sign in</h1>
{{with .Error}}<p class="error" role="alert">{{.}}</p>{{end}}
<form method="post">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="state" value="{{.State}}">
<input type="hidden" name="nonce" value="{{.Nonce}}">
<input type="hidden" name="code_challenge" value="{{.Challenge}}">
<input type="hidden" name="code_challenge_method" value="{{.Method}}">
<input type="hidden" name="scope" value="{{.Scope}}">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form></body></html>`))

func (p *Provider) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	a := readAuthRequest(r)
	if msg := p.check(r, a); msg != "" {
		http.Error(w, "invalid authorization request: "+msg, http.StatusBadRequest)
		return
	}
	renderLogin(w, http.StatusOK, a)
}

func renderLogin(w http.ResponseWriter, status int, a authRequest) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, a)
}

func (p *Provider) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "invalid form", http.StatusBadRequest)
		return
	}
	a := readAuthRequest(r)
	if msg := p.check(r, a); msg != "" {
		http.Error(w, "invalid authorization request: "+msg, http.StatusBadRequest)
		return
	}
	u, ok := p.authenticate(r.PostForm.Get("username"), r.PostForm.Get("password"))
	if !ok {
		a.Error = "Incorrect username or password."
		renderLogin(w, http.StatusUnauthorized, a)
		return
	}
	code := randomID()
	p.mu.Lock()
	now := p.now()
	for c, g := range p.codes {
		if now.After(g.expires) {
			delete(p.codes, c)
		}
	}
	p.codes[code] = grant{client: a.ClientID, redirectURI: a.RedirectURI, user: u, nonce: a.Nonce, challenge: a.Challenge, expires: now.Add(codeTTL)}
	p.mu.Unlock()
	target, _ := url.Parse(a.RedirectURI)
	q := target.Query()
	q.Set("code", code)
	if a.State != "" {
		q.Set("state", a.State)
	}
	target.RawQuery = q.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// authenticate checks a user's password in constant time.
func (p *Provider) authenticate(username, password string) (User, bool) {
	u, ok := p.users[username]
	if !ok || subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) != 1 {
		return User{}, false
	}
	return u, true
}

// handleToken serves the token endpoint's three grants.
func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	client, ok := p.clientAuth(r)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	f := r.PostForm
	switch f.Get("grant_type") {
	case "authorization_code":
		g, msg := p.redeem(client, f.Get("code"), f.Get("redirect_uri"), f.Get("code_verifier"))
		if msg != "" {
			oauthError(w, http.StatusBadRequest, "invalid_grant", msg)
			return
		}
		p.writeTokens(w, r, client.ID, &g.user, g.nonce)
	case "password":
		u, ok := p.authenticate(f.Get("username"), f.Get("password"))
		if !ok {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "incorrect username or password")
			return
		}
		p.writeTokens(w, r, client.ID, &u, "")
	case "client_credentials":
		p.writeTokens(w, r, client.ID, nil, "")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "use authorization_code, password or client_credentials")
	}
}

// clientAuth authenticates the client by HTTP Basic or form fields.
func (p *Provider) clientAuth(r *http.Request) (Client, bool) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c, known := p.clients[id]
	if !known || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return Client{}, false
	}
	return c, true
}

// redeem takes an authorization code once, checking its client, redirect
// URI and PKCE verifier.
func (p *Provider) redeem(c Client, code, redirectURI, verifier string) (grant, string) {
	p.mu.Lock()
	g, ok := p.codes[code]
	delete(p.codes, code)
	now := p.now()
	p.mu.Unlock()
	switch {
	case !ok || now.After(g.expires):
		return grant{}, "the authorization code is unknown, used or expired"
	case g.client != c.ID || g.redirectURI != redirectURI:
		return grant{}, "the authorization code was issued to another client or redirect_uri"
	case g.challenge != "" && base64.RawURLEncoding.EncodeToString(s256(verifier)) != g.challenge:
		return grant{}, "the PKCE code_verifier does not match the code_challenge"
	}
	return g, ""
}

// writeTokens issues an access token, and an ID token for users.
func (p *Provider) writeTokens(w http.ResponseWriter, r *http.Request, clientID string, u *User, nonce string) {
	now := p.now()
	ttl := time.Duration(p.cfg.TokenTTLSeconds) * time.Second
	common := map[string]any{
		"iss": p.issuer(r), "aud": []string{clientID}, "iat": now.Unix(), "exp": now.Add(ttl).Unix(),
		"tenant": p.cfg.TenantID, "sub": clientID,
	}
	access := map[string]any{"scope": "openid appid_default"}
	var id map[string]any
	if u != nil {
		amr, acr := []string{"pwd"}, "pwd"
		if u.MFA {
			amr, acr = []string{"pwd", "mfa"}, "mfa"
		}
		common["sub"], common["amr"], common["acr"] = "appid-"+u.Username, amr, acr
		common["name"], common["email"], common["preferred_username"] = u.Name, u.Email, u.Username
		common["email_verified"] = u.Email != ""
		for k, v := range u.Attributes {
			common[k] = v
		}
		id = map[string]any{}
		if nonce != "" {
			id["nonce"] = nonce
		}
	}
	out := map[string]any{"token_type": "Bearer", "expires_in": int(ttl.Seconds()), "scope": "openid appid_default"}
	for name, extra := range map[string]map[string]any{"access_token": access, "id_token": id} {
		if extra == nil {
			continue
		}
		claims := map[string]any{}
		for k, v := range common {
			claims[k] = v
		}
		for k, v := range extra {
			claims[k] = v
		}
		tok, err := p.Sign(claims)
		if err != nil {
			oauthError(w, http.StatusInternalServerError, "server_error", "token signing failed")
			return
		}
		out[name] = tok
	}
	writeJSON(w, http.StatusOK, out)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// hiddenField matches the login page's hidden inputs.
var hiddenField = regexp.MustCompile(`name="(\w+)" value="([^"]*)"`)

// LoginForm fills a login page served by the provider as a person would:
// its hidden fields, the username and the password. Tests and scripts
// post it back to the page's URL.
func LoginForm(page []byte, username, password string) url.Values {
	form := url.Values{"username": {username}, "password": {password}}
	for _, m := range hiddenField.FindAllSubmatch(page, -1) {
		form.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	return form
}
