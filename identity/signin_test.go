package identity

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/simulator/appid"
)

// browser is an HTTP client with cookies.
type browser struct{ *http.Client }

func newBrowser() browser {
	jar, _ := cookiejar.New(nil)
	return browser{&http.Client{Jar: jar}}
}

// noFollow returns a copy of the browser that does not follow redirects.
func (b browser) noFollow() browser {
	c := *b.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return browser{&c}
}

// submitLogin fills the provider's login page at loginURL and posts it,
// following redirects; it returns the final response.
func (b browser) submitLogin(t *testing.T, loginURL, user, pass string) *http.Response {
	resp, err := b.Get(loginURL)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	resp, err = b.PostForm(resp.Request.URL.String(), appid.LoginForm(page, user, pass))
	require.NoError(t, err)
	return resp
}

// signIn runs the whole browser sign-in and returns the JSON it lands on
// (/auth/whoami).
func (b browser) signIn(t *testing.T, gw, provider, user, pass string) map[string]any {
	resp := b.submitLogin(t, gw+"/auth/login?provider="+provider, user, pass)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var out map[string]any
	require.NoError(t, json.Unmarshal(body, &out))
	return out
}

// call sends a request and decodes the JSON answer.
func (b browser) call(t *testing.T, method, u, body string) (int, map[string]any) {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func errCode(out map[string]any) string {
	errs, _ := out["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	return errs[0].(map[string]any)["code"].(string)
}

// twoIssuers configures qgov with the App ID stand-in and a second,
// independently configured issuer: another tenant, ES256 keys, its own
// client, and users whose groups claim (a list) decides their projects.
func twoIssuers(t *testing.T, tenants []org.TenantSettings) (*testAuth, string, *issuer) {
	clk := newClock()
	first := newIssuer(t, appid.Config{}, appid.WithClock(clk.now))
	second := newIssuer(t, appid.Config{
		TenantID: "lab2", Algorithm: "ES256",
		Clients: []appid.Client{{ID: "lab-portal", Secret: "lab-secret"}},
		Users: []appid.User{{Username: "kim", Password: "kim-pw", Name: "Kim", Email: "kim@lab.example",
			Attributes: map[string]any{"groups": []string{"quantum", "staff"}}}},
	}, appid.WithClock(clk.now))
	ta := newTestAuthClock(t, clk, tenants, appIDProvider(first, "appid"), ProviderConfig{
		Name: "lab", Issuer: second.URL(), ClientID: "lab-portal", ClientSecret: "lab-secret", Algorithms: []string{"ES256"},
		Tenant: "lab", Claims: ClaimMap{User: "email"},
	})
	return ta, ta.gateway(t).URL, first
}

func TestSignInWithTwoIssuers(t *testing.T) {
	_, gw, _ := twoIssuers(t, nil)
	for _, tc := range []struct {
		provider, user, pass string
		want                 map[string]any
	}{
		{"appid", "fatima", "fatima-demo", map[string]any{"user": "fatima", "tenant": "default", "projects": []any{"ml"}}},
		{"appid", "amyra", "amyra-demo", map[string]any{"user": "amyra", "projects": []any{"ml", "finance"}}},
		{"appid", "chen", "chen-demo", map[string]any{"user": "chen", "projects": nil}}, // "chemlab" is not "ml"
		{"lab", "kim", "kim-pw", map[string]any{"user": "kim@lab.example", "tenant": "lab", "projects": []any{"qlab"}}},
	} {
		t.Run(tc.provider+"/"+tc.user, func(t *testing.T) {
			who := newBrowser().signIn(t, gw, tc.provider, tc.user, tc.pass)
			for k, v := range tc.want {
				assert.Equal(t, v, who[k], k)
			}
			assert.NotEmpty(t, who["session_id"])
		})
	}
}

func TestSignInRefusesForgedCallbacks(t *testing.T) {
	ta, gw, _ := twoIssuers(t, nil)
	start := func(b browser) string { // returns the provider's login URL
		resp, err := b.noFollow().Get(gw + "/auth/login?provider=appid")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
		return resp.Header.Get("Location")
	}
	callbackOf := func(b browser, loginURL string) string { // signs in at the provider, stops before the callback
		resp := b.noFollow().submitLogin(t, loginURL, "fatima", "fatima-demo")
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
		return resp.Header.Get("Location")
	}

	t.Run("wrong state", func(t *testing.T) {
		b := newBrowser()
		cb := callbackOf(b, start(b))
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("state", "forged")
		u.RawQuery = q.Encode()
		code, out := b.call(t, http.MethodGet, u.String(), "")
		assert.Equal(t, http.StatusUnauthorized, code)
		assert.Equal(t, "signin_failed", errCode(out))
	})
	t.Run("callback in another browser", func(t *testing.T) {
		b := newBrowser()
		code, out := newBrowser().call(t, http.MethodGet, callbackOf(b, start(b)), "")
		assert.Equal(t, http.StatusUnauthorized, code)
		assert.Equal(t, "signin_failed", errCode(out))
	})
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		b := newBrowser()
		u, _ := url.Parse(start(b))
		q := u.Query()
		q.Set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") // of another verifier
		u.RawQuery = q.Encode()
		code, out := b.call(t, http.MethodGet, callbackOf(b, u.String()), "")
		assert.Equal(t, http.StatusUnauthorized, code)
		assert.Equal(t, "signin_failed", errCode(out))
	})
	t.Run("replayed callback", func(t *testing.T) {
		b := newBrowser()
		cb := callbackOf(b, start(b))
		code, _ := b.call(t, http.MethodGet, cb, "")
		require.Equal(t, http.StatusOK, code)
		code, out := b.call(t, http.MethodGet, cb, "")
		assert.Equal(t, http.StatusUnauthorized, code)
		assert.Equal(t, "signin_failed", errCode(out))
	})
	t.Run("tampered session cookie", func(t *testing.T) {
		b := newBrowser()
		b.signIn(t, gw, "appid", "fatima", "fatima-demo")
		u, _ := url.Parse(gw)
		cookies := b.Jar.Cookies(u)
		require.Len(t, cookies, 1)
		v := []byte(cookies[0].Value)
		v[0] ^= 1
		_, err := ta.auth("cookie:" + string(v))
		require.NotNil(t, err)
		assert.Contains(t, err.Message, "sign in again")
		_, err = ta.auth("cookie:" + cookies[0].Value)
		assert.Nil(t, err)
	})
	t.Run("open redirect", func(t *testing.T) {
		for _, to := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example",
			"javascript:alert(1)", "/a\\b", " /x", "/ /evil.example", "\u000b//evil.example"} {
			_, err := safeReturn(to)
			assert.Error(t, err, "%q", to)
		}
		for _, to := range []string{"/console?x=1", "/console/approvals#top", "/%2F/still.this.site"} {
			got, err := safeReturn(to)
			assert.NoError(t, err)
			assert.Equal(t, to, got)
		}
		got, err := safeReturn("")
		assert.NoError(t, err)
		assert.Equal(t, "/auth/whoami", got)
	})
}

func TestSessions(t *testing.T) {
	ta, gw, appID := twoIssuers(t, []org.TenantSettings{{Name: "default", SessionIdleSeconds: 1800, SessionMaxSeconds: 3600}})
	laptop, phone, admin := newBrowser(), newBrowser(), newBrowser()
	laptop.signIn(t, gw, "appid", "fatima", "fatima-demo")
	phone.signIn(t, gw, "appid", "fatima", "fatima-demo")
	admin.signIn(t, gw, "appid", "admin", "admin-demo")

	code, out := laptop.call(t, http.MethodGet, gw+"/auth/sessions", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, out["sessions"], 2)

	// Fatima ends her phone's session from the laptop.
	_, who := phone.call(t, http.MethodGet, gw+"/auth/whoami", "")
	phoneID := who["session_id"].(string)
	code, _ = laptop.call(t, http.MethodDelete, gw+"/auth/sessions/"+phoneID, "")
	require.Equal(t, http.StatusOK, code)
	code, _ = phone.call(t, http.MethodGet, gw+"/auth/whoami", "")
	assert.Equal(t, http.StatusUnauthorized, code)

	// Someone else's session is not found; users may not end others' sessions.
	_, who = admin.call(t, http.MethodGet, gw+"/auth/whoami", "")
	assert.Contains(t, who["permissions"], "audit:view", "whoami names what the caller holds")
	_, mine := laptop.call(t, http.MethodGet, gw+"/auth/whoami", "")
	assert.NotContains(t, mine["permissions"], "audit:view")
	code, _ = laptop.call(t, http.MethodDelete, gw+"/auth/sessions/"+who["session_id"].(string), "")
	assert.Equal(t, http.StatusNotFound, code)
	code, out = laptop.call(t, http.MethodDelete, gw+"/auth/sessions?user=admin", "")
	assert.Equal(t, http.StatusForbidden, code)
	assert.Equal(t, "admin_required", errCode(out))

	// The admin ends all of Fatima's sessions: her cookies and earlier tokens stop working.
	token := appID.token(t, appid.DemoClientID, map[string]any{"preferred_username": "fatima", "iat": ta.now().Add(-time.Second).Unix()})
	_, aerr := ta.auth("Bearer " + token)
	require.Nil(t, aerr)
	code, out = admin.call(t, http.MethodDelete, gw+"/auth/sessions?user=fatima", "")
	require.Equal(t, http.StatusOK, code, out)
	assert.EqualValues(t, 1, out["sessions_ended"])
	code, _ = laptop.call(t, http.MethodGet, gw+"/auth/whoami", "")
	assert.Equal(t, http.StatusUnauthorized, code)
	_, aerr = ta.auth("Bearer " + token)
	require.NotNil(t, aerr)
	assert.Contains(t, aerr.Message, "was signed out")

	// Idle and absolute timeouts.
	admin2 := newBrowser()
	admin2.signIn(t, gw, "appid", "admin", "admin-demo")
	ta.advance(29 * time.Minute)
	code, _ = admin2.call(t, http.MethodGet, gw+"/auth/whoami", "")
	require.Equal(t, http.StatusOK, code, "used within the idle timeout")
	ta.advance(29 * time.Minute)
	code, _ = admin2.call(t, http.MethodGet, gw+"/auth/whoami", "")
	require.Equal(t, http.StatusOK, code, "still within the absolute timeout")
	ta.advance(3 * time.Minute)
	code, _ = admin2.call(t, http.MethodGet, gw+"/auth/whoami", "")
	assert.Equal(t, http.StatusUnauthorized, code, "past the absolute timeout")
	ta.advance(-61 * time.Minute)
	code, _ = admin.call(t, http.MethodGet, gw+"/auth/whoami", "")
	require.Equal(t, http.StatusOK, code)
	ta.advance(31 * time.Minute)
	code, _ = admin.call(t, http.MethodGet, gw+"/auth/whoami", "")
	assert.Equal(t, http.StatusUnauthorized, code, "idle for longer than the idle timeout")

	code, _ = laptop.call(t, http.MethodPost, gw+"/auth/logout", "")
	assert.Equal(t, http.StatusOK, code)
}
