package identity

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/iam"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/simulator/appid"
	"github.com/qgov/qgov/store"
)

// issuer is a real OIDC provider (the App ID stand-in) on a local port,
// counting the fetches of its key set.
type issuer struct {
	*appid.Provider
	srv     *httptest.Server
	fetches atomic.Int64
}

// clock is a test clock shared by issuers and the gateway.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock() *clock {
	c := &clock{}
	now := time.Now()
	c.t.Store(&now)
	return c
}

func (c *clock) now() time.Time { return *c.t.Load() }

// advance moves the clock.
func (c *clock) advance(d time.Duration) {
	next := c.now().Add(d)
	c.t.Store(&next)
}

func newIssuer(t testing.TB, cfg appid.Config, opts ...appid.Option) *issuer {
	p, err := appid.New(cfg, opts...)
	require.NoError(t, err)
	i := &issuer{Provider: p}
	i.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/publickeys") {
			i.fetches.Add(1)
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(i.srv.Close)
	return i
}

// URL is the issuer URL its tokens carry.
func (i *issuer) URL() string { return i.srv.URL + i.BasePath() }

// token mints a token with the issuer's key: standard claims for a user,
// overridden by extra (a nil value deletes a claim).
func (i *issuer) token(t testing.TB, aud string, extra map[string]any) string {
	now := time.Now()
	c := map[string]any{
		"iss": i.URL(), "aud": []string{aud}, "sub": "appid-fatima", "name": "Fatima Khan", "email": "fatima@example.com",
		"project": "ml", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "amr": []string{"pwd"},
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	tok, err := i.Sign(c)
	require.NoError(t, err)
	return tok
}

// appIDProvider configures an issuer as qgov's identity provider.
func appIDProvider(i *issuer, name string) ProviderConfig {
	return ProviderConfig{
		Name: name, Issuer: i.URL(), ClientID: appid.DemoClientID, ClientSecret: appid.DemoClientSecret,
		Claims: ClaimMap{User: "preferred_username"},
	}
}

// testOrg is the organisation the identity tests run in: the demo's
// access groups, whose rules put App ID users in ml and finance by their
// project attribute, a lab tenant whose group rule reads an IdP groups
// claim, an IAM user's group, the service key's user, and the tenant
// administrator.
func testOrg(tenants []org.TenantSettings) org.Config {
	rule := func(claim, op string, values ...string) []org.Rule {
		r := org.Rule{Claim: claim, Operator: op, Values: values}
		if op != org.OpIn {
			r = org.Rule{Claim: claim, Operator: op, Value: values[0]}
		}
		return []org.Rule{r}
	}
	return org.Config{
		Tenants:  tenants,
		Projects: []org.Project{{Name: "ml"}, {Name: "finance"}, {Name: "qlab", Tenant: "lab"}},
		AccessGroups: []org.AccessGroup{
			{Name: "project-ml", Projects: []string{"ml"}, Roles: []string{"researcher"}, Rules: rule("project", org.OpHasWord, "ml")},
			{Name: "project-finance", Projects: []string{"finance"}, Roles: []string{"researcher"}, Rules: rule("project", org.OpHasWord, "finance")},
			{Name: "ibm-ml", Projects: []string{"ml"}, Roles: []string{"researcher"}, Rules: rule("iam_id", org.OpIn, "IBMid-fatima")},
			{Name: "quantum", Tenant: "lab", Projects: []string{"qlab"}, Roles: []string{"researcher"}, Rules: rule("groups", org.OpIn, "quantum")},
			{Name: "services", Projects: []string{"ml"}, Roles: []string{"submitter"}, Members: []string{"svc"}},
		},
		Assignments: []org.Assignment{{User: "admin", Role: "admin"}},
	}
}

// projects are a principal's projects now.
func (ta *testAuth) projects(p *Principal) []string {
	return ta.Directory.Load().Access(p.Member(), ta.now()).Projects()
}

// testAuth is an Authenticator over a real bbolt store, with a clock the
// test can move.
type testAuth struct {
	*Authenticator
	*clock
	st store.Store
}

func newTestAuth(t testing.TB, tenants []org.TenantSettings, provs ...ProviderConfig) *testAuth {
	return newTestAuthClock(t, newClock(), tenants, provs...)
}

func newTestAuthClock(t testing.TB, clk *clock, tenants []org.TenantSettings, provs ...ProviderConfig) *testAuth {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "qgov.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	dir, err := org.NewDirectory(testOrg(tenants))
	require.NoError(t, err)
	ring, err := NewKeyRing([]APIKey{{ID: "svc", Key: "service-secret", User: "svc"}})
	require.NoError(t, err)
	ps, err := NewProviders(provs, http.DefaultClient)
	require.NoError(t, err)
	ta := &testAuth{st: st, clock: clk}
	now := clk.now
	sk, err := NewSigningKeys(t.Context(), st, 24*time.Hour, "qgov", time.Hour, now())
	require.NoError(t, err)
	pepper, err := LoadPepper(t.Context(), st)
	require.NoError(t, err)
	ta.Authenticator = &Authenticator{
		Keys: ring, UserKeys: NewUserKeys(st, pepper), Tokens: sk.Signer, Providers: ps,
		Sessions: NewSessions(st), Users: NewUsers(st), Directory: org.NewCurrent(dir), Now: now,
	}
	return ta
}

// auth authenticates a request carrying header (an Authorization value)
// or, when it starts with "cookie:", a session cookie.
func (ta *testAuth) auth(header string) (*Principal, *denial.Denial) {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/backends", nil)
	if c, ok := strings.CutPrefix(header, "cookie:"); ok {
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: c})
	} else if header != "" {
		r.Header.Set("Authorization", header)
	}
	return ta.Authenticate(r)
}

// gateway serves the /auth/ endpoints and /identity/token as the gateway
// does, with the peer address as the client address.
func (ta *testAuth) gateway(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := netip.MustParseAddrPort(r.RemoteAddr).Addr()
		if r.URL.Path == "/identity/token" {
			ta.IssueToken(w, r, ip)
			return
		}
		if _, err := ta.ServeAuth(w, r, ip); err != nil {
			runtimeapi.WriteDenial(w, err, "test")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

// iamIdentity is the token identity of a self-service key.
func iamIdentity(k KeyRecord) iam.Identity {
	return iam.Identity{IAMID: k.Owner, KeyID: k.ID, Account: k.Tenant}
}
