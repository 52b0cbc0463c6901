package identity

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/simulator/appid"
)

// BenchmarkAuthenticate measures the per-request cost of each credential
// once it is warm: a cached identity-provider JWT, a cached qgov token,
// and API keys declared in config or created by users.
func BenchmarkAuthenticate(b *testing.B) {
	i := newIssuer(b, appid.Config{})
	ta := newTestAuth(b, []org.TenantSettings{{Name: "default", APIKeyCreation: true}}, appIDProvider(i, "appid"))
	idp := i.token(b, appid.DemoClientID, map[string]any{"preferred_username": "fatima"})
	p, err := ta.auth("Bearer " + idp)
	require.Nil(b, err)
	k, secret, cerr := ta.UserKeys.Create(b.Context(), KeyRecord{Name: "bench", Tenant: p.Tenant, Owner: p.UserID}, ta.now())
	require.NoError(b, cerr)
	qgovToken, _, ierr := ta.Tokens.Issue(iamIdentity(k), ta.now())
	require.NoError(b, ierr)

	for _, bc := range []struct{ name, header string }{
		{"idp-jwt-cached", "Bearer " + idp},
		{"qgov-token-cached", "Bearer " + qgovToken},
		{"config-api-key", "apikey service-secret"},
		{"user-api-key", "apikey " + secret},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/api/v1/jobs", nil)
			r.Header.Set("Authorization", bc.header)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ta.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
