package appid

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func serve(t *testing.T, cfg Config) (*Provider, string) {
	p, err := New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL + p.BasePath()
}

func TestDiscoveryAndRotation(t *testing.T) {
	p, iss := serve(t, Config{})
	resp, err := http.Get(iss + "/.well-known/openid-configuration")
	require.NoError(t, err)
	var disc map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&disc))
	resp.Body.Close()
	assert.Equal(t, iss, disc["issuer"])
	assert.Equal(t, iss+"/publickeys", disc["jwks_uri"])
	assert.Equal(t, []any{"S256"}, disc["code_challenge_methods_supported"])

	keys := func() []jose.JSONWebKey {
		resp, err := http.Get(iss + "/publickeys")
		require.NoError(t, err)
		defer resp.Body.Close()
		var set jose.JSONWebKeySet
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
		return set.Keys
	}
	first := keys()[0].KeyID
	for range 3 {
		require.NoError(t, p.Rotate())
	}
	after := keys()
	assert.Len(t, after, maxKeys, "old keys stay published, up to a bound")
	assert.NotEqual(t, first, after[0].KeyID)
	for _, k := range after {
		assert.True(t, k.IsPublic(), "only public keys are published")
	}
}

func TestBadRequests(t *testing.T) {
	_, iss := serve(t, Config{Clients: []Client{{ID: "app", Secret: "s3cret", RedirectURIs: []string{"https://app.example/cb"}}}})
	authz := func(q url.Values) int {
		resp, err := http.Get(iss + "/authorization?" + q.Encode())
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	good := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"https://app.example/cb"}, "state": {"s"}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for key, vals := range good {
			q[key] = vals
		}
		q.Set(k, v)
		return q
	}
	assert.Equal(t, http.StatusOK, authz(good))
	plain := with("code_challenge_method", "plain")
	plain.Set("code_challenge", "abc")
	for name, q := range map[string]url.Values{
		"unregistered redirect": with("redirect_uri", "https://evil.example/cb"),
		"unknown client":        with("client_id", "nope"),
		"implicit flow":         with("response_type", "token"),
		"plain PKCE":            plain,
	} {
		assert.Equal(t, http.StatusBadRequest, authz(q), name)
	}

	token := func(form url.Values, user, pass string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, iss+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		code, _ := out["error"].(string)
		return resp.StatusCode, code
	}
	for _, tc := range []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		code       string
	}{
		{"wrong client secret", url.Values{"grant_type": {"client_credentials"}}, "app", "wrong", 401, "invalid_client"},
		{"unknown grant", url.Values{"grant_type": {"implicit"}}, "app", "s3cret", 400, "unsupported_grant_type"},
		{"wrong password", url.Values{"grant_type": {"password"}, "username": {"fatima"}, "password": {"x"}}, "app", "s3cret", 400, "invalid_grant"},
		{"unknown code", url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {"https://app.example/cb"}}, "app", "s3cret", 400, "invalid_grant"},
		{"client credentials", url.Values{"grant_type": {"client_credentials"}}, "app", "s3cret", 200, ""},
		{"password", url.Values{"grant_type": {"password"}, "username": {"fatima"}, "password": {"fatima-demo"}}, "app", "s3cret", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code := token(tc.form, tc.user, tc.pass)
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.code, code)
		})
	}
}

func TestConfigRejects(t *testing.T) {
	for name, cfg := range map[string]Config{
		"HS256":                 {Algorithm: "HS256"},
		"relative issuer":       {Issuer: "/oauth"},
		"client without secret": {Clients: []Client{{ID: "a"}}},
		"duplicate users":       {Users: []User{{Username: "u", Password: "p"}, {Username: "u", Password: "q"}}},
	} {
		_, err := New(cfg)
		assert.Error(t, err, name)
	}
}
