package identity

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/iam"
	"github.com/qgov/qgov/ibm/runtimeapi"
)

func TestAuthenticate(t *testing.T) {
	a := newTestAuth(t, nil)
	var err error
	a.Keys, err = NewKeyRing([]APIKey{
		{ID: "f", Key: "fatima-secret", User: "fatima", Name: "Fatima", Projects: []string{"ml"}},
		{ID: "r", SHA256: HashKey("ravi-secret"), User: "ravi", Tenant: "acme", Projects: []string{"finance"}},
	})
	require.NoError(t, err)
	// Exchange a key for a token at the IAM stand-in.
	form := url.Values{"grant_type": {iam.APIKeyGrant}, "apikey": {"ravi-secret"}}
	req := httptest.NewRequest(http.MethodPost, "/identity/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	a.IssueToken(rec, req, netip.MustParseAddr("192.0.2.1"))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	token := strings.Split(strings.Split(rec.Body.String(), `"access_token":"`)[1], `"`)[0]

	for _, tc := range []struct {
		name, header string
		user, tenant string
		err          string
	}{
		{"bearer token", "Bearer " + token, "ravi", "acme", ""},
		{"apikey fallback", "apikey fatima-secret", "fatima", "default", ""},
		{"scheme is case-insensitive", "bearer " + token, "ravi", "acme", ""},
		{"no header", "", "", "", "missing Authorization"},
		{"wrong key", "apikey fatima-secreT", "", "", "API key is not valid"},
		{"secret as bearer", "Bearer fatima-secret", "", "", "not a JWT"},
		{"basic auth", "Basic Zm9vOmJhcg==", "", "", `must be "Bearer <token>"`},
		{"empty bearer", "Bearer ", "", "", `must be "Bearer <token>"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/v1/backends", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			p, err := a.Authenticate(r)
			if tc.err != "" {
				require.NotNil(t, err)
				assert.Equal(t, http.StatusUnauthorized, runtimeapi.StatusOf(err.Code))
				assert.Contains(t, err.Message, tc.err)
				return
			}
			require.Nil(t, err)
			assert.Equal(t, tc.user, p.UserID)
			assert.Equal(t, tc.tenant, p.Tenant)
		})
	}

	// A key removed from the configuration invalidates its tokens at once.
	a.Keys, _ = NewKeyRing([]APIKey{{ID: "f", Key: "fatima-secret", User: "fatima"}})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	_, aerr := a.Authenticate(r)
	require.NotNil(t, aerr)
	assert.Contains(t, aerr.Message, "has been revoked")
}

func TestKeyRingRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []APIKey
		want string
	}{
		{"no user", []APIKey{{ID: "a", Key: "s"}}, "id and user are required"},
		{"both secrets", []APIKey{{ID: "a", User: "u", Key: "s", SHA256: HashKey("s")}}, "exactly one of key and sha256"},
		{"no secret", []APIKey{{ID: "a", User: "u"}}, "exactly one of key and sha256"},
		{"bad hash", []APIKey{{ID: "a", User: "u", SHA256: "abc"}}, "64 hex digits"},
		{"same secret twice", []APIKey{{ID: "a", User: "u", Key: "s"}, {ID: "b", User: "v", SHA256: HashKey("s")}}, "declared twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewKeyRing(tc.keys)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
