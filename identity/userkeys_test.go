package identity

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/iam"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/org"
)

// replica is a second gateway over the same store, with its own caches.
func (ta *testAuth) replica() *Authenticator {
	a := ta.Authenticator
	return &Authenticator{
		Keys: a.Keys, UserKeys: NewUserKeys(ta.st, a.UserKeys.pepper), Tokens: a.Tokens, Providers: a.Providers,
		Sessions: NewSessions(ta.st), Users: NewUsers(ta.st), Directory: a.Directory, Now: a.Now,
	}
}

func TestSelfServiceKeys(t *testing.T) {
	ta, gw, _ := twoIssuers(t, []org.TenantSettings{{Name: "default", APIKeyCreation: true, SessionMaxSeconds: 7200}})
	fatima := newBrowser()
	fatima.signIn(t, gw, "appid", "fatima", "fatima-demo")
	create := func(body string) (int, map[string]any) { return fatima.call(t, http.MethodPost, gw+"/auth/keys", body) }

	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"no name", `{}`, 400, "invalid_name"},
		{"project not held", `{"name":"k","projects":["finance"]}`, 403, "project_not_held"},
		{"unknown scope", `{"name":"k","scopes":["quantum-computing.everything"]}`, 400, "unknown_scope"},
		{"past expiry", `{"name":"k","expires_at":"2001-01-01T00:00:00Z"}`, 400, "invalid_expiry"},
		{"bad range", `{"name":"k","allowed_ips":["10.0.0.0/33"]}`, 400, "invalid_allowed_ips"},
		{"unknown field", `{"name":"k","admin":true}`, 400, "invalid_body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := create(tc.body)
			assert.Equal(t, tc.status, code)
			assert.Equal(t, tc.code, errCode(out))
		})
	}

	// A key scoped to reading jobs (legacy name accepted), usable from loopback only.
	code, out := create(`{"name":"reader","scopes":["quantum-computing.program.read"],"allowed_ips":["127.0.0.0/8","::1/128"],"rate_limit":2}`)
	require.Equal(t, http.StatusCreated, code, out)
	secret := out["key"].(string)
	id := out["id"].(string)
	require.True(t, strings.HasPrefix(secret, KeyPrefix+id+"_"))
	assert.NotContains(t, out, "hash")

	p, err := ta.auth("apikey " + secret)
	require.Nil(t, err)
	assert.Equal(t, "fatima", p.UserID)
	assert.Equal(t, []string{"ml"}, ta.projects(p))
	assert.True(t, p.Allows(runtimeapi.ActionJobRead))
	assert.False(t, p.Allows(runtimeapi.ActionJobCreate))
	_, denied := ta.CheckAddress(p, netip.MustParseAddr("203.0.113.9"))
	require.NotNil(t, denied)
	assert.Equal(t, "ip_not_allowed", denied.Code)
	_, denied = ta.CheckAddress(p, netip.MustParseAddr("::1"))
	assert.Nil(t, denied)

	// Exchange at /identity/token, as Qiskit clients do; the token acts as the key.
	token := exchange(t, gw, secret)
	p, err = ta.auth("Bearer " + token)
	require.Nil(t, err)
	assert.Equal(t, id, p.KeyID)

	// Listing shows metadata and last use, never the secret.
	code, out = fatima.call(t, http.MethodGet, gw+"/auth/keys", "")
	require.Equal(t, http.StatusOK, code)
	keys := out["keys"].([]any)
	require.Len(t, keys, 1)
	listed := keys[0].(map[string]any)
	assert.NotContains(t, listed, "key")
	assert.NotContains(t, listed, "hash")
	assert.NotEmpty(t, listed["last_used"])

	// Keys cannot manage keys.
	req, _ := http.NewRequest(http.MethodGet, gw+"/auth/keys", nil)
	req.Header.Set("Authorization", "apikey "+secret)
	resp, rerr := http.DefaultClient.Do(req)
	require.NoError(t, rerr)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	// Rotation: the old secret works for the grace period only.
	code, out = fatima.call(t, http.MethodPost, gw+"/auth/keys/"+id+"/rotate", `{"grace_seconds":60}`)
	require.Equal(t, http.StatusOK, code, out)
	rotated := out["key"].(string)
	for _, s := range []string{secret, rotated} {
		_, err = ta.auth("apikey " + s)
		assert.Nil(t, err)
	}
	ta.advance(61 * time.Second)
	_, err = ta.auth("apikey " + secret)
	require.NotNil(t, err)
	assert.Contains(t, err.Message, "grace period is over")
	_, err = ta.auth("apikey " + rotated)
	assert.Nil(t, err)

	// Revocation reaches another replica within seconds, tokens included.
	other := ta.replica()
	ask := func(a *Authenticator, h string) *denial.Denial {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", h)
		_, err := a.Authenticate(r)
		return err
	}
	require.Nil(t, ask(other, "apikey "+rotated))
	code, _ = fatima.call(t, http.MethodDelete, gw+"/auth/keys/"+id, "")
	require.Equal(t, http.StatusOK, code)
	assert.NotNil(t, ask(ta.Authenticator, "apikey "+rotated), "at once where it was revoked")
	ta.advance(recordTTL + time.Second)
	assert.NotNil(t, ask(other, "apikey "+rotated), "within seconds elsewhere")
	assert.NotNil(t, ask(other, "Bearer "+token))
	code, _ = fatima.call(t, http.MethodDelete, gw+"/auth/keys/"+id, "")
	assert.Equal(t, http.StatusNotFound, code)
}

func TestKeyNeverOutlivesItsOwnersHoldings(t *testing.T) {
	ta, gw, _ := twoIssuers(t, []org.TenantSettings{{Name: "default", APIKeyCreation: true, SessionMaxSeconds: 3600}})
	b := newBrowser()
	b.signIn(t, gw, "appid", "amyra", "amyra-demo")
	code, out := b.call(t, http.MethodPost, gw+"/auth/keys", fmt.Sprintf(`{"name":"ml only","projects":["ml"],"expires_at":%q}`,
		time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339)))
	require.Equal(t, http.StatusCreated, code, out)
	secret := out["key"].(string)
	p, err := ta.auth("apikey " + secret)
	require.Nil(t, err)
	assert.Equal(t, []string{"ml"}, ta.projects(p), "narrowed to the key's projects")

	// The sign-in that gave Amyra her projects ends: the key holds nothing.
	ta.advance(61 * time.Minute)
	_, err = ta.auth("apikey " + secret)
	require.NotNil(t, err)
	assert.Equal(t, "key_owner_inactive", err.Code)

	// Signing in again renews them; past its expiry the key is refused.
	b.signIn(t, gw, "appid", "amyra", "amyra-demo")
	_, err = ta.auth("apikey " + secret)
	require.Nil(t, err)
	ta.advance(48 * time.Hour)
	_, err = ta.auth("apikey " + secret)
	require.NotNil(t, err)
	assert.Contains(t, err.Message, "expired")
}

func TestKeyCreationFollowsTenantSetting(t *testing.T) {
	_, gw, _ := twoIssuers(t, nil)
	b := newBrowser()
	b.signIn(t, gw, "appid", "fatima", "fatima-demo")
	code, out := b.call(t, http.MethodPost, gw+"/auth/keys", `{"name":"k"}`)
	assert.Equal(t, http.StatusForbidden, code)
	assert.Equal(t, "api_key_creation_disabled", errCode(out))
}

// exchange trades an API key for a token at the gateway's IAM stand-in.
func exchange(t *testing.T, gw, key string) string {
	resp, err := http.PostForm(gw+"/identity/token", url.Values{"grant_type": {iam.APIKeyGrant}, "apikey": {key}})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, jsonDecode(resp, &tok))
	return tok.AccessToken
}
