package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/iam"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/simulator/appid"
)

// currentKey returns the issuer's published signing key.
func (i *issuer) currentKey(t *testing.T) jose.JSONWebKey {
	resp, err := http.Get(i.URL() + "/publickeys")
	require.NoError(t, err)
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	return set.Keys[0]
}

// foreignToken signs claims with a key the issuer never published.
func foreignToken(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	require.NoError(t, err)
	return tok
}

func b64(v any) string {
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func TestProviderRejectsAttackTokens(t *testing.T) {
	i := newIssuer(t, appid.Config{})
	ta := newTestAuth(t, nil, appIDProvider(i, "appid"))
	now := time.Now()
	good := func(extra map[string]any) map[string]any {
		c := map[string]any{
			"iss": i.URL(), "aud": []string{appid.DemoClientID}, "sub": "appid-fatima", "preferred_username": "fatima",
			"project": "ml", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	mint := func(extra map[string]any) string { return must(i.Sign(good(extra))) }
	pub := i.currentKey(t)
	pemPub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(pub.Key))})
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	valid := mint(nil)
	parts := strings.Split(valid, ".")

	for _, tc := range []struct {
		name, token, want string
	}{
		{"expired", mint(map[string]any{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}), "has expired"},
		{"not yet valid", mint(map[string]any{"nbf": now.Add(10 * time.Minute).Unix()}), "not valid yet"},
		{"issued in the future", mint(map[string]any{"iat": now.Add(10 * time.Minute).Unix()}), "issued in the future"},
		{"no expiry", mint(map[string]any{"exp": nil}), "no expiry"},
		{"wrong audience", i.token(t, "another-app", good(map[string]any{"aud": []string{"another-app"}})), "audience"},
		{"unknown issuer", mint(map[string]any{"iss": "https://evil.example/oauth/v4/x"}), "not accepted by this gateway"},
		{"no user claim", mint(map[string]any{"preferred_username": nil}), `no "preferred_username" claim`},
		{"signed by another key with the issuer's kid", foreignToken(t, jose.RS256, other, pub.KeyID, good(nil)), "signature is not valid"},
		{"signed by another key with a made-up kid", foreignToken(t, jose.RS256, other, "made-up", good(nil)), "does not publish"},
		{"alg none", b64(map[string]string{"alg": "none", "typ": "JWT", "kid": pub.KeyID}) + "." + b64(good(nil)) + ".", "signature is not valid"},
		{"HS256 keyed with the RSA public key", foreignToken(t, jose.HS256, pemPub, pub.KeyID, good(nil)), "signature is not valid"},
		{"tampered payload", parts[0] + "." + b64(good(map[string]any{"project": "ml finance"})) + "." + parts[2], "signature is not valid"},
		{"not a JWT", "abc.def", "not a JWT"},
		{"payload not JSON", "eyJhbGciOiJSUzI1NiJ9.!!!.c2ln", "not a JWT with an issuer"},
		{"oversized", strings.Repeat("a", 20<<10), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ta.auth("Bearer " + tc.token)
			require.NotNil(t, err, "accepted as %+v", p)
			assert.Equal(t, http.StatusUnauthorized, runtimeapi.StatusOf(err.Code))
			assert.Contains(t, err.Message, tc.want)
		})
	}
	assert.Equal(t, []Failures{{Provider: "appid", Refused: 11}}, ta.Providers.Failures(),
		"every token of the issuer that did not verify counts; the four that name no known issuer or are no JWT do not")

	t.Run("valid token, and within the clock skew", func(t *testing.T) {
		for _, tok := range []string{valid, mint(map[string]any{"exp": now.Add(-10 * time.Second).Unix()})} {
			p, err := ta.auth("Bearer " + tok)
			require.Nil(t, err)
			assert.Equal(t, "fatima", p.UserID)
			assert.Equal(t, []string{"ml"}, ta.projects(p))
			assert.Equal(t, "appid", p.Provider)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestKeyRotationRefreshesOnceAndIsRateLimited(t *testing.T) {
	i := newIssuer(t, appid.Config{})
	ta := newTestAuth(t, nil, appIDProvider(i, "appid"))
	claims := func() map[string]any { return map[string]any{"preferred_username": "fatima"} }
	_, err := ta.auth("Bearer " + i.token(t, appid.DemoClientID, claims()))
	require.Nil(t, err)
	require.EqualValues(t, 1, i.fetches.Load())

	// The issuer rotates: the first token with the new kid refreshes the key set once.
	require.NoError(t, i.Rotate())
	rotated := i.token(t, appid.DemoClientID, claims())
	for range 3 {
		_, err = ta.auth("Bearer " + rotated)
		require.Nil(t, err)
		ta.tokens.drop(rotated) // verify again, not from the cache
	}
	require.EqualValues(t, 2, i.fetches.Load())

	// Made-up key ids cannot make qgov hammer the issuer's JWKS endpoint.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	for n := range 10 {
		c := claims()
		c["iss"], c["aud"], c["exp"] = i.URL(), appid.DemoClientID, time.Now().Add(time.Hour).Unix()
		_, err := ta.auth("Bearer " + foreignToken(t, jose.RS256, other, "made-up-"+string(rune('a'+n)), c))
		require.NotNil(t, err)
	}
	assert.EqualValues(t, 2, i.fetches.Load(), "refreshes for unknown kids are rate limited")
	_, err = ta.auth("Bearer " + i.token(t, appid.DemoClientID, claims()))
	assert.Nil(t, err, "keys that verified before still work")
}

func TestProviderConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ProviderConfig
		want string
	}{
		{"no audience", ProviderConfig{Name: "x", Issuer: "https://x"}, "audiences or a client_id"},
		{"symmetric algorithm", ProviderConfig{Name: "x", Issuer: "https://x", ClientID: "c", Algorithms: []string{"HS256"}}, `algorithm "HS256" is not allowed`},
		{"unbounded skew", ProviderConfig{Name: "x", Issuer: "https://x", ClientID: "c", ClockSkewSeconds: 3600}, "clock_skew_seconds"},
		{"iam without accounts", ProviderConfig{Name: "x", Type: TypeIAM}, "need accounts"},
		{"same issuer twice", ProviderConfig{Name: "y", Issuer: "https://dup", ClientID: "c"}, "declared twice"},
		{"two unprefixed in a tenant", ProviderConfig{Name: "y", Issuer: "https://y", ClientID: "c", UserPrefix: "", Claims: ClaimMap{User: "email"}}, "both give tenant default user ids without a prefix"},
		{"a prefix with a separator", ProviderConfig{Name: "y", Issuer: "https://y", ClientID: "c", UserPrefix: "corp/"}, "user_prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewProviders([]ProviderConfig{{Name: "dup", Issuer: "https://dup", ClientID: "c", Claims: ClaimMap{User: "sub"}}, tc.cfg}, http.DefaultClient)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestIAMProvider(t *testing.T) {
	key, err := iam.GenerateKey()
	require.NoError(t, err)
	signer, err := iam.NewSigner([]*rsa.PrivateKey{key}, "https://iam.test/identity", time.Hour)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(signer.ServeKeys))
	t.Cleanup(srv.Close)
	ta := newTestAuth(t, nil, ProviderConfig{
		Name: "ibmcloud", Type: TypeIAM, Issuer: "https://iam.test/identity", JWKSURL: srv.URL, Accounts: []string{"acct-1"},
	})
	for _, tc := range []struct {
		account, user, want string
	}{
		{"acct-1", "IBMid-fatima", ""},
		{"acct-2", "IBMid-fatima", "account this gateway does not accept"},
	} {
		tok, _, err := signer.Issue(iam.Identity{IAMID: tc.user, Account: tc.account, Name: "Fatima"}, time.Now())
		require.NoError(t, err)
		p, aerr := ta.auth("Bearer " + tok)
		if tc.want != "" {
			require.NotNil(t, aerr)
			assert.Contains(t, aerr.Message, tc.want)
			continue
		}
		require.Nil(t, aerr)
		assert.Equal(t, "ibmcloud.IBMid-fatima", p.UserID, "qualified by the provider: its ids are not mapped explicitly")
		assert.Equal(t, []string{"ml"}, ta.projects(p))
	}
}

func TestMFARequired(t *testing.T) {
	i := newIssuer(t, appid.Config{})
	ta := newTestAuth(t, []org.TenantSettings{{Name: "default", MFARequired: true}}, appIDProvider(i, "appid"))
	_, err := ta.auth("Bearer " + i.token(t, appid.DemoClientID, map[string]any{"preferred_username": "fatima"}))
	require.NotNil(t, err)
	assert.Equal(t, http.StatusForbidden, runtimeapi.StatusOf(err.Code))
	assert.Equal(t, "mfa_required", err.Code)
	for _, second := range []map[string]any{{"amr": []string{"pwd", "mfa"}}, {"amr": []string{"pwd", "otp"}}, {"acr": "mfa"}} {
		second["preferred_username"] = "admin"
		_, err = ta.auth("Bearer " + i.token(t, appid.DemoClientID, second))
		assert.Nil(t, err, "%v shows a second factor", second)
	}
}

// TestUserIDsOfProviders checks the ids a provider's tokens give: ids
// qualified by the provider unless the configuration maps the user claim,
// no id that could reach another user's records, and an email only when
// the provider verified it.
func TestUserIDsOfProviders(t *testing.T) {
	idp := newIssuer(t, appid.Default())
	mapped := appIDProvider(idp, "appid")
	other := newIssuer(t, appid.Default())
	qualified := ProviderConfig{Name: "corp", Issuer: other.URL(), ClientID: appid.DemoClientID}
	ta := newTestAuth(t, nil, mapped, qualified)
	for _, tc := range []struct {
		name   string
		from   *issuer
		claims map[string]any
		user   string
		email  string
		err    string
	}{
		{"mapped claim", idp, map[string]any{"preferred_username": "admin", "email_verified": true}, "admin", "fatima@example.com", ""},
		{"unverified email is not taken", idp, map[string]any{"preferred_username": "fatima", "email": "admin@example.org"}, "fatima", "", ""},
		{"another provider's admin is not the admin", other, map[string]any{"sub": "admin"}, "corp.admin", "", ""},
		{"an id with a slash", idp, map[string]any{"preferred_username": "fatima/keys"}, "", "", "cannot name a user"},
		{"an id with a colon", idp, map[string]any{"preferred_username": "fatima:admin"}, "", "", "cannot name a user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ta.auth("Bearer " + tc.from.token(t, appid.DemoClientID, tc.claims))
			if tc.err != "" {
				require.NotNil(t, err)
				assert.Contains(t, err.Message, tc.err)
				return
			}
			require.Nil(t, err)
			assert.Equal(t, tc.user, p.UserID)
			assert.Equal(t, tc.email, p.Email)
		})
	}
}

// TestUnreachableProviderIsCounted: a token of a provider whose discovery
// cannot be fetched is refused as unreachable, and counted so.
func TestUnreachableProviderIsCounted(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	issuer := gone.URL
	gone.Close()
	ta := newTestAuth(t, nil, ProviderConfig{Name: "gone", Issuer: issuer, ClientID: "c", ClientSecret: "s", Claims: ClaimMap{User: "sub"}})
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	now := time.Now()
	tok := foreignToken(t, jose.RS256, other, "k1", map[string]any{"iss": issuer, "aud": []string{"c"}, "sub": "x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	_, d := ta.auth("Bearer " + tok)
	require.NotNil(t, d)
	assert.Contains(t, d.Message, "cannot be reached")
	assert.Equal(t, []Failures{{Provider: "gone", Unreachable: 1}}, ta.Providers.Failures())
}
