package caddymodule

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSimulatorCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		input string
		want  Simulator
		err   string
	}{
		{input: "qgov_simulator", want: Simulator{}},
		{input: "qgov_simulator sim.json", want: Simulator{ConfigFile: "sim.json"}},
		{input: "qgov_simulator {\n config sim.json\n max_qubits 20\n workers 3\n}", want: Simulator{ConfigFile: "sim.json", MaxQubits: 20, Workers: 3}},
		{input: "qgov_simulator a.json b.json", err: "wrong argument count"},
		{input: "qgov_simulator {\n max_qubits many\n}", err: `max_qubits must be a positive integer, got "many"`},
		{input: "qgov_simulator {\n workers 0\n}", err: "workers must be a positive integer"},
		{input: "qgov_simulator {\n config\n}", err: "wrong argument count"},
		{input: "qgov_simulator {\n max_qubits 4 5\n}", err: "wrong argument count"},
		{input: "qgov_simulator {\n qubits 4\n}", err: `unrecognized qgov_simulator option "qubits"`},
	} {
		t.Run(tc.input, func(t *testing.T) {
			var got Simulator
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestCaddyfileAdapt compares each testdata/caddyfile_adapt fixture
// ("Caddyfile ---------- JSON") with the adapter's output.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		caddyfileText, want, ok := strings.Cut(string(raw), "----------")
		require.True(t, ok, "%s: no ---------- separator", f)
		assert.True(t, caddytest.CompareAdapt(t, f, caddyfileText, "caddyfile", strings.TrimSpace(want)), f)
	}
}

// TestExampleAdapts keeps Caddyfile.example loadable.
func TestExampleAdapts(t *testing.T) {
	raw, err := os.ReadFile("../Caddyfile.example")
	require.NoError(t, err)
	adapted, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(raw, map[string]any{"filename": "Caddyfile.example"})
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.Contains(t, string(adapted), `"handler":"qgov_simulator"`)
}

func TestAppCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		check       func(t *testing.T, a *App)
		err         string
	}{
		{name: "redis store", input: "qgov {\n store redis 10.0.0.1:6379 {\n addrs 10.0.0.2:6379\n master_name m\n username u\n password {env.REDIS_PW}\n db 2\n tls\n key_prefix x:\n }\n token_ttl 15m\n issuer gw\n max_body_size 1MiB\n}",
			check: func(t *testing.T, a *App) {
				assert.Equal(t, &StoreConfig{Backend: "redis", Addrs: []string{"10.0.0.1:6379", "10.0.0.2:6379"}, MasterName: "m", Username: "u",
					Password: "{env.REDIS_PW}", DB: 2, TLS: true, KeyPrefix: "x:"}, a.Store)
				assert.Equal(t, caddy.Duration(15*time.Minute), a.TokenTTL)
				assert.Equal(t, "gw", a.Issuer)
				assert.EqualValues(t, 1<<20, a.MaxBodySize)
			}},
		{name: "objects", input: "qgov {\n instance QR-a {\n crn c\n tenant t\n upstream u\n iam_url i\n api_key {env.K}\n plan open\n backends b1 b2\n }\n project p {\n tenant t\n instances QR-a\n }\n api_key k {\n sha256 abc\n user u\n name \"U U\"\n email u@x\n tenant t\n projects p q\n }\n}",
			check: func(t *testing.T, a *App) {
				require.Len(t, a.Instances, 1)
				assert.Equal(t, "QR-a", a.Instances[0].Alias)
				assert.Equal(t, []string{"b1", "b2"}, a.Instances[0].Backends)
				assert.Equal(t, "{env.K}", a.Instances[0].APIKey)
				assert.Equal(t, []string{"QR-a"}, a.Projects[0].Instances)
				assert.Equal(t, "U U", a.APIKeys[0].Name)
				assert.Equal(t, []string{"p", "q"}, a.APIKeys[0].Projects)
			}},
		{name: "unknown option", input: "qgov {\n colour blue\n}", err: `unrecognized qgov option "colour"`},
		{name: "unknown store", input: "qgov {\n store sqlite\n}", err: `unknown store backend "sqlite"`},
		{name: "redis without address", input: "qgov {\n store redis\n}", err: "at least one address"},
		{name: "bad ttl", input: "qgov {\n token_ttl soon\n}", err: "token_ttl"},
		{name: "bad size", input: "qgov {\n max_body_size lots\n}", err: "max_body_size"},
		{name: "nameless instance", input: "qgov {\n instance {\n crn c\n }\n}", err: "instance needs a name"},
		{name: "unknown instance option", input: "qgov {\n instance a {\n region x\n }\n}", err: `unrecognized instance option "region"`},
		{name: "unknown key option", input: "qgov {\n api_key a {\n role admin\n }\n}", err: `unrecognized api_key option "role"`},
		{name: "arguments", input: "qgov extra", err: "wrong argument count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := parseApp(caddyfile.NewTestDispenser(tc.input), nil)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			var a App
			require.NoError(t, json.Unmarshal(v.(httpcaddyfile.App).Value, &a))
			tc.check(t, &a)
		})
	}
}
