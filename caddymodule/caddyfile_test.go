package caddymodule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
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
