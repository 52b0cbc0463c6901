package caddymodule

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestValidate provisions qgov apps as `qgov validate` does: what is
// wrong is named, nothing outside the process is touched, and checking a
// policy's or workflow's channels needs no running notifier.
func TestValidate(t *testing.T) {
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	const slack = `"notification_channels":[{"name":"slack","url":"https://hooks.slack.com/x"}]`
	for _, tc := range []struct {
		name, app, err string
	}{
		{"a policy notifying a declared channel", `{` + slack + `,"policies":[{"name":"n","condition":"shots > 5","action":"notify","notify":[{"channel":"slack"}]}]}`, ""},
		{"a workflow notifying a declared channel", `{` + slack + `,"workflows":[{"name":"w","trigger":{"condition":"shots > 5"},"approvers":[{"role":"admin"}],"notify":["slack"]}]}`, ""},
		{"a workflow notifying an undeclared channel", `{"workflows":[{"name":"w","trigger":{"condition":"shots > 5"},"approvers":[{"role":"admin"}],"notify":["ops"]}]}`, `notification channel "ops" is not declared`},
		{"a channel whose URL placeholder is unset", `{"notification_channels":[{"name":"slack","url":"{env.QGOV_TEST_UNSET_URL}"}]}`, "the URL or its placeholder is unset"},
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
