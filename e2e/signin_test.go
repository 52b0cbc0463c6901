package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/qiskitclient"
	"github.com/qgov/qgov/simulator/appid"
)

// signIn signs a user in at the gateway through the simulator's App ID
// login page, as a browser does, and returns the browser.
func (d *demo) signIn(t *testing.T, user string) *http.Client {
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar}
	resp, err := b.Get(d.gateway + "/auth/login?provider=appid")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	require.True(t, strings.HasPrefix(resp.Request.URL.String(), d.sim+"/oauth/v4/"+appid.DemoTenantID+"/authorization"))
	resp, err = b.PostForm(resp.Request.URL.String(), appid.LoginForm(page, user, user+"-demo"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/auth/whoami", resp.Request.URL.Path, "the sign-in lands on the gateway")
	return b
}

// appIDToken gets a user's App ID access token with the password grant.
func (d *demo) appIDToken(t *testing.T, user string) string {
	return passwordToken(t, d.sim+"/oauth/v4/"+appid.DemoTenantID, user)
}

// passwordToken gets a demo user's access token from an App ID stand-in
// at issuer with the password grant.
func passwordToken(t *testing.T, issuer, user string) string {
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token",
		strings.NewReader(url.Values{"grant_type": {"password"}, "username": {user}, "password": {user + "-demo"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(appid.DemoClientID, appid.DemoClientSecret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	require.NotEmpty(t, tok.AccessToken)
	return tok.AccessToken
}

// TestAppIDUserScenario is the demo scenario with App ID users: Fatima
// signs in, creates a key, and her Qiskit client session works on QR-ml
// and QR-common and is refused on QR-finance.
func TestAppIDUserScenario(t *testing.T) {
	d := startDemo(t)
	ctx := t.Context()
	fatima := d.signIn(t, "fatima")

	resp, err := fatima.Post(d.gateway+"/auth/keys", "application/json", strings.NewReader(`{"name":"laptop"}`))
	require.NoError(t, err)
	var created struct {
		ID, Key string
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	instances, err := d.client(created.Key, "QR-ml").Instances(ctx)
	require.NoError(t, err)
	var names []string
	for _, in := range instances {
		names = append(names, in.Name)
	}
	assert.ElementsMatch(t, []string{"QR-ml", "QR-common"}, names)

	for _, alias := range []string{"QR-ml", "QR-common"} {
		t.Run("session on "+alias, func(t *testing.T) {
			report, err := qiskitclient.Session(ctx, d.client(created.Key, alias))
			require.NoError(t, err)
			assert.NotEmpty(t, report.JobID)
		})
	}
	t.Run("refused on QR-finance", func(t *testing.T) {
		_, err := d.client(created.Key, "QR-finance").Submit(ctx, bellJob())
		var qe *qiskitclient.Error
		require.ErrorAs(t, err, &qe)
		assert.Equal(t, http.StatusForbidden, qe.Status)
		item, _ := qe.Item()
		assert.Equal(t, "instance_not_accessible", item.Code)
	})

	// REST users may send their App ID token directly; rules match words
	// exactly, so chen's "chemlab" does not reach the ml project.
	for _, tc := range []struct {
		user   string
		status int
	}{{"fatima", http.StatusOK}, {"amyra", http.StatusOK}, {"ravi", http.StatusForbidden}, {"chen", http.StatusForbidden}} {
		t.Run("bearer App ID token of "+tc.user, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, d.gateway+"/api/v1/backends", nil)
			req.Header.Set("Authorization", "Bearer "+d.appIDToken(t, tc.user))
			req.Header.Set("Service-CRN", "QR-ml")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
		})
	}

	// Revoking the key stops it at once on this gateway.
	req, _ := http.NewRequest(http.MethodDelete, d.gateway+"/auth/keys/"+created.ID, nil)
	resp, err = fatima.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err = d.client(created.Key, "QR-ml").Instances(ctx)
	require.Error(t, err)
}
