package caddymodule

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/testenv"
)

// TestValidate provisions qgov apps as `qgov validate` does: what is
// wrong is named, nothing outside the process is touched, and checking a
// policy's or workflow's channels needs no running notifier.
func TestValidate(t *testing.T) {
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	t.Setenv("QGOV_TEST_WEBHOOK_SECRET", "whsec_"+base64.StdEncoding.EncodeToString([]byte("a key of thirty-two bytes, fixed")))
	t.Setenv("QGOV_TEST_BAD_SECRET", "not-a-whsec-key")
	const slack = `"notification_channels":[{"name":"slack","url":"https://hooks.slack.com/x"}]`
	for _, tc := range []struct {
		name, app, err string
	}{
		{"a policy notifying a declared channel", `{` + slack + `,"policies":[{"name":"n","condition":"shots > 5","action":"notify","notify":[{"channel":"slack"}]}]}`, ""},
		{"a workflow notifying a declared channel", `{` + slack + `,"workflows":[{"name":"w","trigger":{"condition":"shots > 5"},"approvers":[{"role":"admin"}],"notify":["slack"]}]}`, ""},
		{"a workflow notifying an undeclared channel", `{"workflows":[{"name":"w","trigger":{"condition":"shots > 5"},"approvers":[{"role":"admin"}],"notify":["ops"]}]}`, `notification channel "ops" is not declared`},
		{"a channel whose URL placeholder is unset", `{"notification_channels":[{"name":"slack","url":"{env.QGOV_TEST_UNSET_URL}"}]}`, "the URL or its placeholder is unset"},
		{"a webhook secret by reference", `{"notification_channels":[{"name":"pager","url":"https://pager.example/hook","secret":"{env.QGOV_TEST_WEBHOOK_SECRET}"}]}`, ""},
		{"a webhook secret written out", `{"notification_channels":[{"name":"pager","url":"https://pager.example/hook","secret":"whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ="}]}`, "give the secret as a placeholder"},
		{"a webhook secret's placeholder unset", `{"notification_channels":[{"name":"pager","url":"https://pager.example/hook","secret":"{env.QGOV_TEST_UNSET_SECRET}"}]}`, "placeholder is unset"},
		{"a malformed webhook secret", `{"notification_channels":[{"name":"pager","url":"https://pager.example/hook","secret":"{env.QGOV_TEST_BAD_SECRET}"}]}`, "whsec_"},
		{"an unknown store backend", `{"store":{"backend":"etcd"}}`, `unknown backend "etcd"`},
		{"an audit stream without Redis", `{"audit":{"stream":true}}`, "needs the redis store backend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg caddy.Config
			require.NoError(t, json.Unmarshal([]byte(`{"admin":{"disabled":true},"apps":{"qgov":`+tc.app+`}}`), &cfg))
			err := caddy.Validate(&cfg)
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.err)
			}
		})
	}
	entries, err := os.ReadDir(data)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotEqual(t, "qgov", e.Name(), "validation created no store and no trail under %s", data)
	}
}

// TestFailedStartAnswersAtOnce: when the app cannot start (its store
// cannot be opened), a request waiting for it is answered at once, not
// after startWait.
func TestFailedStartAnswersAtOnce(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	app := &App{Store: &StoreConfig{Path: filepath.Join(blocker, "qgov.db")}} // below a file: it cannot be created
	require.NoError(t, app.Provision(ctx))
	require.Error(t, app.Start())
	began := time.Now()
	assert.Nil(t, app.running(context.Background()))
	assert.Less(t, time.Since(began), time.Second)
	require.NoError(t, app.Cleanup())
}

// TestRedisOverTLS starts the app on a real redis-server that takes only
// TLS connections with client certificates: with the CA, the client's
// certificate and the server's name it runs; without the certificate, or
// naming another server, it does not start.
func TestRedisOverTLS(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	srv := testenv.RedisTLS(t)
	for _, tc := range []struct {
		name  string
		store StoreConfig
		ok    bool
	}{
		{"CA, client certificate and server name", StoreConfig{TLSCA: srv.CA, TLSCert: srv.Cert, TLSKey: srv.Key, TLSServerName: srv.ServerName}, true},
		{"the address's own name, with a pool size and a dial timeout", StoreConfig{TLSCA: srv.CA, TLSCert: srv.Cert, TLSKey: srv.Key,
			PoolSize: 4, DialTimeout: caddy.Duration(time.Second)}, true},
		{"no client certificate", StoreConfig{TLSCA: srv.CA, TLSServerName: srv.ServerName}, false},
		{"another server's name", StoreConfig{TLSCA: srv.CA, TLSCert: srv.Cert, TLSKey: srv.Key, TLSServerName: "elsewhere.test"}, false},
		{"the system's roots", StoreConfig{TLS: true, TLSCert: srv.Cert, TLSKey: srv.Key}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := tc.store
			sc.Backend, sc.Addrs, sc.KeyPrefix = "redis", []string{srv.Addr}, "tls-"+strings.ReplaceAll(tc.name, " ", "-")+":"
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			app := &App{Store: &sc, Quotas: &QuotaConfig{StoreTimeout: caddy.Duration(time.Second)}}
			require.NoError(t, app.Provision(ctx))
			err := app.Start()
			if !tc.ok {
				require.Error(t, err)
				require.NoError(t, app.Cleanup())
				return
			}
			require.NoError(t, err)
			require.NoError(t, app.st.Put(context.Background(), "probe", "k", []byte("v"), 0))
			v, err := app.st.Get(context.Background(), "probe", "k")
			require.NoError(t, err)
			assert.Equal(t, "v", string(v))
			require.NoError(t, app.Stop())
			require.NoError(t, app.Cleanup())
		})
	}
}

// TestRedisTLSFilesAreChecked: a TLS file that cannot be read is a
// configuration error, found by validation.
func TestRedisTLSFilesAreChecked(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	app := &App{Store: &StoreConfig{Backend: "redis", Addrs: []string{"127.0.0.1:1"}, TLSCA: filepath.Join(t.TempDir(), "missing.pem")}}
	assert.ErrorContains(t, app.Provision(ctx), "tls_ca")
}
