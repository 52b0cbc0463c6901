package identity

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/route"
	"github.com/qgov/qgov/internal/strictjson"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/rbac"
)

// Bounds of self-service keys.
const (
	defaultKeyLifetime = 90 * 24 * time.Hour
	maxKeyLifetime     = 366 * 24 * time.Hour
	defaultGrace       = time.Hour
	maxGrace           = 7 * 24 * time.Hour
	maxKeyBody         = 16 << 10
)

// csrf refuses cross-origin browser requests that would change state
// with a session cookie.
var csrf = http.NewCrossOriginProtection()

// ServeAuth serves the sign-in flow and the self-service endpoints:
//
//	GET    /auth/login[?provider=&return_to=]  start browser sign-in
//	GET    /auth/callback                      complete it
//	GET    /auth/logout                        a form to confirm signing out
//	POST   /auth/logout                        end the browser's session (same site only)
//	GET    /auth/whoami                        the caller
//	GET    /auth/keys[?user=]                  list API keys (metadata, last use)
//	POST   /auth/keys                          create a key; its secret is shown once
//	POST   /auth/keys/{id}/rotate              new secret, old one valid for a grace period
//	DELETE /auth/keys/{id}                     revoke
//	GET    /auth/sessions[?user=]              list sign-in sessions
//	DELETE /auth/sessions/{id}                 end one
//	DELETE /auth/sessions?user=                end all of a user's, and their tokens
//
// It returns what happened, for the audit trail, and the error to answer
// with; on success the answer is written.
func (a *Authenticator) ServeAuth(w http.ResponseWriter, r *http.Request, client netip.Addr) (Event, *denial.Denial) {
	ev := Event{Action: audit.ActionAuth}
	err := a.serveAuth(w, r, r.URL.Path, client, &ev, false)
	return ev, a.denial(err)
}

// ServeAdmin serves the key and session endpoints for the governance
// API: path is the endpoint as under /auth/ ("/auth/keys/k-1/rotate").
// There an administrator (user:manage across the tenant) may also act
// with an API key, and create keys for other users; anyone else acts as
// on /auth/.
func (a *Authenticator) ServeAdmin(w http.ResponseWriter, r *http.Request, path string, client netip.Addr) (Event, *denial.Denial) {
	ev := Event{Action: audit.ActionAuth}
	err := a.serveAuth(w, r, path, client, &ev, true)
	return ev, a.denial(err)
}

func (a *Authenticator) serveAuth(w http.ResponseWriter, r *http.Request, path string, client netip.Addr, ev *Event, admin bool) error {
	if path != r.URL.Path { // the governance API's path for the endpoint
		u := *r.URL
		u.Path, u.RawPath = path, ""
		r = r.WithContext(r.Context())
		r.URL = &u
	}
	rt, found := authRoutes.Match(r)
	if found == route.Found && rt.signIn != nil {
		var err error
		ev.Action = rt.action
		ev.Principal, err = rt.signIn(a, w, r, client)
		ev.object("session", ev.Principal.sessionID())
		return err
	}
	p, denied := a.Authenticate(r)
	if denied != nil {
		return denied
	}
	ev.Principal = p
	if _, denied := a.CheckAddress(p, client); denied != nil {
		return denied
	}
	if found != route.Found {
		return denial.New("unknown_route", fmt.Sprintf("%s %s is not a qgov endpoint", r.Method, path))
	}
	ev.Action = rt.action
	return rt.serve(selfService{a: a, w: w, r: r, p: p, ev: ev, admin: admin}, r.PathValue("id"))
}

// authEndpoint is one endpoint under /auth/: a step of browser sign-in,
// served before anyone is authenticated, or a self-service endpoint of a
// signed-in caller.
type authEndpoint struct {
	action string
	signIn func(a *Authenticator, w http.ResponseWriter, r *http.Request, client netip.Addr) (*Principal, error)
	serve  func(s selfService, id string) error
}

// authRoutes are the endpoints under /auth/.
var authRoutes = route.New([]route.Route[authEndpoint]{
	{Pattern: "GET /auth/login", Value: authEndpoint{action: audit.ActionLogin, signIn: func(a *Authenticator, w http.ResponseWriter, r *http.Request, _ netip.Addr) (*Principal, error) {
		return nil, a.login(w, r)
	}}},
	{Pattern: "GET /auth/callback", Value: authEndpoint{action: audit.ActionSignIn, signIn: func(a *Authenticator, w http.ResponseWriter, r *http.Request, client netip.Addr) (*Principal, error) {
		return a.callback(w, r, client.String())
	}}},
	{Pattern: "GET /auth/logout", Value: authEndpoint{action: audit.ActionAuth, signIn: func(a *Authenticator, w http.ResponseWriter, r *http.Request, _ netip.Addr) (*Principal, error) {
		return nil, a.confirmLogout(w, r)
	}}},
	{Pattern: "POST /auth/logout", Value: authEndpoint{action: audit.ActionSignOut, signIn: func(a *Authenticator, w http.ResponseWriter, r *http.Request, _ netip.Addr) (*Principal, error) {
		return a.logout(w, r)
	}}},
	{Pattern: "GET /auth/whoami", Value: authEndpoint{action: audit.ActionWhoami, serve: func(s selfService, _ string) error { return s.whoami() }}},
	{Pattern: "GET /auth/users", Value: authEndpoint{action: audit.ActionUserList, serve: func(s selfService, _ string) error { return s.listUsers() }}},
	{Pattern: "GET /auth/keys", Value: authEndpoint{action: audit.ActionKeyList, serve: func(s selfService, _ string) error { return s.listKeys() }}},
	{Pattern: "POST /auth/keys", Value: authEndpoint{action: audit.ActionKeyCreate, serve: func(s selfService, _ string) error { return s.createKey() }}},
	{Pattern: "POST /auth/keys/{id}/rotate", Value: authEndpoint{action: audit.ActionKeyRotate, serve: selfService.rotateKey}},
	{Pattern: "DELETE /auth/keys/{id}", Value: authEndpoint{action: audit.ActionKeyRevoke, serve: selfService.revokeKey}},
	{Pattern: "GET /auth/sessions", Value: authEndpoint{action: audit.ActionSessionList, serve: func(s selfService, _ string) error { return s.listSessions() }}},
	{Pattern: "DELETE /auth/sessions", Value: authEndpoint{action: audit.ActionSessionsEnd, serve: func(s selfService, _ string) error { return s.endAll() }}},
	{Pattern: "DELETE /auth/sessions/{id}", Value: authEndpoint{action: audit.ActionSessionEnd, serve: selfService.endSession}},
})

// selfService is one self-service request.
type selfService struct {
	a  *Authenticator
	w  http.ResponseWriter
	r  *http.Request
	p  *Principal
	ev *Event
	// admin: the governance API, where administrators may use API keys.
	admin bool
}

func (s selfService) now() time.Time { return s.a.Now() }

// access is what the caller may do now.
func (s selfService) access() org.Access { return s.a.Directory.Load().Access(s.p.Member(), s.now()) }

// isAdmin reports whether the caller manages the tenant's users: the
// user:manage permission through a tenant-wide role (admin).
func (s selfService) isAdmin() bool {
	return s.access().Tenant().Has(rbac.UserManage)
}

// signedIn requires a user of an identity provider, not an API key: keys
// do not make keys, and sessions belong to people.
func (s selfService) signedIn() error {
	if s.admin && s.isAdmin() && !s.p.Narrowed() {
		return nil
	}
	if s.p.Provider == "" || s.p.KeyID != "" {
		return denial.New("user_required",
			"API keys and sessions are managed by a signed-in user (session or identity-provider token), not with an API key")
	}
	return nil
}

// subject returns whose keys or sessions the request is about: ?user=
// for administrators, else the caller.
func (s selfService) subject() (string, error) {
	u := s.r.URL.Query().Get("user")
	if u == "" || u == s.p.UserID {
		return s.p.UserID, nil
	}
	if err := org.ValidUserID(u); err != nil {
		return "", badRequest("invalid_user", "user: %v", err)
	}
	if !s.isAdmin() {
		return "", denial.New("admin_required",
			fmt.Sprintf("only holders of user:manage across tenant %s (role admin) may act on another user's keys or sessions", s.p.Tenant))
	}
	return u, nil
}

func (s selfService) whoami() error {
	access := s.access()
	runtimeapi.WriteJSON(s.w, http.StatusOK, map[string]any{
		"user": s.p.UserID, "name": s.p.Name, "email": s.p.Email, "tenant": s.p.Tenant, "projects": access.Projects(),
		"roles": access.Grants(), "permissions": access.Widest().Permissions(),
		"groups": s.p.Groups, "access_groups": s.p.AccessGroups, "provider": s.p.Provider, "key_id": s.p.KeyID, "session_id": s.p.SessionID,
		"mfa": s.p.MFA, "expires": s.p.Expires, "scopes": s.p.Scopes,
	})
	return nil
}

// listUsers answers GET /auth/users: the users the configuration names in
// the caller's tenant, with their projects now. Holders of user:view may
// list them, and everyone when the tenant sets user_list_visible.
func (s selfService) listUsers() error {
	if !s.a.Directory.Load().Settings(s.p.Tenant).UserListVisible && !s.access().Holds(rbac.UserView) {
		return denial.New("user_list_hidden",
			fmt.Sprintf("tenant %s shows its users only to holders of user:view (team_lead, admin); the tenant setting user_list_visible shows them to every member", s.p.Tenant))
	}
	type user struct {
		User     string   `json:"user"`
		Projects []string `json:"projects"`
	}
	users := []user{}
	for _, u := range s.a.Directory.Load().Users(s.p.Tenant) {
		users = append(users, user{u, s.a.Directory.Load().Access(org.Member{Tenant: s.p.Tenant, User: u}, s.now()).Projects()})
	}
	runtimeapi.WriteJSON(s.w, http.StatusOK, map[string]any{"tenant": s.p.Tenant, "users": users})
	return nil
}

// keyRequest is the body of POST /auth/keys.
type keyRequest struct {
	// User and Tenant name another owner: user:manage across the
	// caller's tenant for another user, platform:manage for another
	// tenant (governance API only).
	User       string   `json:"user"`
	Tenant     string   `json:"tenant_id"`
	Name       string   `json:"name"`
	Projects   []string `json:"projects"`
	Scopes     []string `json:"scopes"`
	ExpiresAt  string   `json:"expires_at"`
	AllowedIPs []string `json:"allowed_ips"`
	RateLimit  int      `json:"rate_limit"`
}

func badRequest(code, format string, args ...any) error {
	return denial.New(code, fmt.Sprintf(format, args...))
}

func decodeBody(r *http.Request, w http.ResponseWriter, v any) error {
	if err := runtimeapi.PlainBody(r.Header); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxKeyBody))
	if err != nil {
		return badRequest("invalid_body", "reading the body: %v", err)
	}
	if err := strictjson.Decode(body, v, true); err != nil {
		return badRequest("invalid_body", "the body must be a JSON object with known fields: %v", err)
	}
	return nil
}

func (s selfService) createKey() error {
	if err := s.signedIn(); err != nil {
		return err
	}
	if !s.a.Directory.Load().Settings(s.p.Tenant).APIKeyCreation {
		return denial.New("api_key_creation_disabled",
			fmt.Sprintf("tenant %s does not let users create API keys (setting api_key_creation)", s.p.Tenant))
	}
	var req keyRequest
	if err := decodeBody(s.r, s.w, &req); err != nil {
		return err
	}
	if req.User != "" {
		if err := org.ValidUserID(req.User); err != nil {
			return badRequest("invalid_user", "user: %v", err)
		}
	}
	if req.User != "" && req.User != s.p.UserID && !(s.admin && s.isAdmin()) {
		return denial.New("admin_required",
			fmt.Sprintf("only holders of user:manage across tenant %s (role admin) may create keys for another user, through the governance API", s.p.Tenant))
	}
	if req.Tenant != "" && req.Tenant != s.p.Tenant && !(s.admin && s.access().Tenant().Has(rbac.PlatformManage)) {
		return denial.New("tenant_not_accessible",
			fmt.Sprintf("only holders of platform:manage (role operator) may create keys in tenant %s", req.Tenant))
	}
	if err := s.mayActAs(cmp.Or(req.Tenant, s.p.Tenant), cmp.Or(req.User, s.p.UserID)); err != nil {
		return err
	}
	k, err := s.keyRecord(req)
	if err != nil {
		return err
	}
	k, secret, err := s.a.UserKeys.Create(s.r.Context(), k, s.now())
	if err != nil {
		return err
	}
	s.ev.object("api_key", k.ID)
	s.ev.After = k.Public()
	writeKey(s.w, http.StatusCreated, k, secret)
	return nil
}

// mayActAs checks that the caller may act on another user's keys and
// sessions (make, rotate or revoke a key, end a session): that user's
// access now, their last sign-in's dynamic memberships included, must be
// within the caller's, so no one takes over, or locks out, someone who
// holds more. Holders of platform:manage may act for anyone.
func (s selfService) mayActAs(tenant, user string) error {
	if tenant == s.p.Tenant && user == s.p.UserID {
		return nil
	}
	mine := s.access()
	if mine.Tenant().Has(rbac.PlatformManage) {
		return nil
	}
	now := s.now()
	rec, err := s.a.Users.Get(s.r.Context(), tenant, user, now)
	if err != nil {
		return err
	}
	theirs := s.a.Directory.Load().Access(org.Member{Tenant: tenant, User: user, Groups: rec.AccessGroupsAt(now)}, now)
	if err := mine.Covers(theirs); err != nil {
		return denial.New("privilege_ceiling", fmt.Sprintf(
			"user %s may not act on the keys or sessions of %s, who holds more: %v (rule: nobody grants more than they hold)",
			s.p.UserID, user, err))
	}
	return nil
}

// keyRecord validates a key request against what the caller holds.
func (s selfService) keyRecord(req keyRequest) (KeyRecord, error) {
	now := s.now()
	k := KeyRecord{Name: strings.TrimSpace(req.Name), Tenant: cmp.Or(req.Tenant, s.p.Tenant), Owner: cmp.Or(req.User, s.p.UserID), RateLimit: req.RateLimit, AllowedIPs: req.AllowedIPs}
	if k.Name == "" || len(k.Name) > 100 {
		return k, badRequest("invalid_name", "name is required, at most 100 characters")
	}
	access := s.a.Directory.Load().Access(org.Member{Tenant: k.Tenant, User: k.Owner}, now)
	if k.Owner == s.p.UserID && k.Tenant == s.p.Tenant {
		access = s.access()
	}
	held := access.Projects()
	for _, proj := range req.Projects {
		if !slices.Contains(held, proj) {
			return k, denial.New("project_not_held",
				fmt.Sprintf("a key cannot reach project %q: you are not a member of it (your projects: %s)", proj, strings.Join(held, ", ")))
		}
	}
	k.Projects = req.Projects
	for _, name := range req.Scopes {
		actions := runtimeapi.Expand(name)
		if actions == nil {
			return k, badRequest("unknown_scope", "scope %q is not a quantum-computing action", name)
		}
		for _, a := range actions {
			if c := rbac.RouteCapability(runtimeapi.Route{Action: a}); !access.Holds(c) {
				return k, denial.New("scope_not_held",
					fmt.Sprintf("a key cannot be scoped for %s: none of your roles grants %s", a, rbac.CapabilityName(c)))
			}
			if !slices.Contains(k.Scopes, a) {
				k.Scopes = append(k.Scopes, a)
			}
		}
	}
	k.Expires = now.Add(defaultKeyLifetime)
	if req.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, req.ExpiresAt)
		if err != nil || !t.After(now) || t.Sub(now) > maxKeyLifetime {
			return k, badRequest("invalid_expiry", "expires_at must be an RFC 3339 time in the future, at most %d days away", int(maxKeyLifetime.Hours()/24))
		}
		k.Expires = t
	}
	if _, err := org.ParsePrefixes(req.AllowedIPs); err != nil {
		return k, badRequest("invalid_allowed_ips", "allowed_ips: %v", err)
	}
	if req.RateLimit < 0 {
		return k, badRequest("invalid_rate_limit", "rate_limit is requests per minute, 0 for none")
	}
	return k, nil
}

func writeKey(w http.ResponseWriter, status int, k KeyRecord, secret string) {
	runtimeapi.WriteJSON(w, status, struct {
		KeyRecord
		Key  string `json:"key"`
		Note string `json:"note"`
	}{k.Public(), secret, "Store the key now: it is shown only once."})
}

// ownKey returns a key the caller may manage, or 404.
func (s selfService) ownKey(id string) (KeyRecord, error) {
	if err := s.signedIn(); err != nil {
		return KeyRecord{}, err
	}
	k, err := s.a.UserKeys.Get(s.r.Context(), id, s.now())
	if errors.Is(err, ErrKeyNotFound) || (err == nil && (k.Tenant != s.p.Tenant || (k.Owner != s.p.UserID && !s.isAdmin()))) {
		return k, denial.New("key_not_found", fmt.Sprintf("you have no API key %q", id))
	}
	if err != nil {
		return k, err
	}
	return k, s.mayActAs(k.Tenant, k.Owner)
}

func (s selfService) listKeys() error {
	if err := s.signedIn(); err != nil {
		return err
	}
	user, err := s.subject()
	if err != nil {
		return err
	}
	keys, err := s.a.UserKeys.List(s.r.Context(), s.p.Tenant, user, s.now())
	if err != nil {
		return err
	}
	runtimeapi.WriteJSON(s.w, http.StatusOK, map[string]any{"keys": keys})
	return nil
}

func (s selfService) rotateKey(id string) error {
	s.ev.object("api_key", id)
	k, err := s.ownKey(id)
	if err != nil {
		return err
	}
	s.ev.Subject = k.Owner
	var req struct {
		GraceSeconds *int `json:"grace_seconds"`
	}
	if s.r.ContentLength != 0 {
		if err := decodeBody(s.r, s.w, &req); err != nil {
			return err
		}
	}
	grace := defaultGrace
	if req.GraceSeconds != nil {
		grace = time.Duration(*req.GraceSeconds) * time.Second
		if grace < 0 || grace > maxGrace {
			return badRequest("invalid_grace", "grace_seconds must be between 0 and %d", int(maxGrace.Seconds()))
		}
	}
	k, secret, err := s.a.UserKeys.Rotate(s.r.Context(), k.ID, grace, s.now())
	if err != nil {
		return err
	}
	writeKey(s.w, http.StatusOK, k, secret)
	return nil
}

func (s selfService) revokeKey(id string) error {
	s.ev.object("api_key", id)
	k, err := s.ownKey(id)
	if err != nil {
		return err
	}
	if err := s.a.UserKeys.Revoke(s.r.Context(), k); err != nil {
		return err
	}
	s.ev.Subject, s.ev.Before = k.Owner, k.Public()
	runtimeapi.WriteJSON(s.w, http.StatusOK, map[string]string{"revoked": k.ID})
	return nil
}

func (s selfService) listSessions() error {
	user, err := s.subject()
	if err != nil {
		return err
	}
	list, err := s.a.Sessions.List(s.r.Context(), s.p.Tenant, user, s.now())
	if err != nil {
		return err
	}
	for i := range list {
		list[i].AccessGroups, list[i].Groups = nil, nil
	}
	runtimeapi.WriteJSON(s.w, http.StatusOK, map[string]any{"sessions": list, "current": s.p.SessionID})
	return nil
}

func (s selfService) endSession(id string) error {
	s.ev.object("session", id)
	if err := s.signedIn(); err != nil {
		return err
	}
	sess, err := s.a.Sessions.Get(s.r.Context(), id, s.now())
	if errors.Is(err, errNoSession) || (err == nil && (sess.Tenant != s.p.Tenant || (sess.User != s.p.UserID && !s.isAdmin()))) {
		return denial.New("session_not_found", fmt.Sprintf("you have no session %q", id))
	} else if err != nil {
		return err
	}
	if err := s.mayActAs(sess.Tenant, sess.User); err != nil {
		return err
	}
	if err := s.a.Sessions.End(s.r.Context(), sess); err != nil {
		return err
	}
	s.ev.Subject = sess.User
	runtimeapi.WriteJSON(s.w, http.StatusOK, map[string]string{"ended": id})
	return nil
}

// endAll ends every session of a user and every identity-provider token
// issued to them until now.
func (s selfService) endAll() error {
	if err := s.signedIn(); err != nil {
		return err
	}
	user, err := s.subject()
	if err != nil {
		return err
	}
	s.ev.Subject = user
	if err := s.mayActAs(s.p.Tenant, user); err != nil {
		return err
	}
	now := s.now()
	n, err := s.a.Sessions.EndAll(s.r.Context(), s.p.Tenant, user, now)
	if err != nil {
		return err
	}
	if err := s.a.Users.SignOut(s.r.Context(), s.p.Tenant, user, now); err != nil {
		return err
	}
	runtimeapi.WriteJSON(s.w, http.StatusOK, map[string]any{"user": user, "sessions_ended": n, "tokens_before": now.UTC()})
	return nil
}
