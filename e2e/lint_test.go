package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adaptQgov adapts a Caddyfile and returns its qgov app as generic JSON.
func adaptQgov(t *testing.T, caddyfile, filename string) map[string]any {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": filename})
	require.NoError(t, err)
	var cfg struct {
		Apps struct {
			Qgov map[string]any `json:"qgov"`
		} `json:"apps"`
	}
	require.NoError(t, json.Unmarshal(out, &cfg))
	return cfg.Apps.Qgov
}

// dropSources removes every "source" key: where an object was written is
// the one thing the two forms may differ in.
func dropSources(v any) any {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "source")
		for k := range x {
			x[k] = dropSources(x[k])
		}
	case []any:
		for i := range x {
			x[i] = dropSources(x[i])
		}
	}
	return v
}

// TestOrgFileMatchesInline: the organisation written inline in the
// Caddyfile and in IBM-shaped YAML adapt to the same JSON.
func TestOrgFileMatchesInline(t *testing.T) {
	instance := "instance QR-alpha {\n crn crn:v1:bluemix:public:quantum-computing:us-east:a/alpha:qr-alpha::\n tenant research-alpha\n upstream https://quantum.cloud.ibm.com/api/v1\n api_key {env.K}\n }\n"
	inline := "{\n qgov {\n " + instance + `
		tenant research-alpha {
			display_name "Research Lab Alpha"
			default_backend simulator
			max_shots 100000
			mfa_required
			session_idle 60m
			ip_allowlist 192.168.1.0/24
		}
		project quantum-ml {
			tenant research-alpha
			display_name "Quantum ML"
			cost_center CC-12345
			instances QR-alpha
		}
		role quantum_intern {
			description "Limited access for interns"
			permissions job:submit:simulator_only job:view:own result:view:own
			limits {
				max_shots_per_job 1000
				backends simulator
			}
		}
		access_group interns {
			tenant research-alpha
			rule department in interns summer
			projects quantum-ml
			roles quantum_intern
		}
		assign user-123 researcher tenant research-alpha expires 2026-12-31T23:59:59Z
	}
}`
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/example-org.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "example-org.yaml"), data, 0o600))
	fromFile := "{\n qgov {\n " + instance + " org_file example-org.yaml\n }\n}"

	a := dropSources(adaptQgov(t, inline, "Caddyfile"))
	b := dropSources(adaptQgov(t, fromFile, filepath.Join(dir, "Caddyfile")))
	assert.Equal(t, a, b)
	assert.NotEmpty(t, a.(map[string]any)["access_groups"])
}

func TestLintCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	example, err := os.ReadFile("../Caddyfile.example")
	require.NoError(t, err)
	warn := replaceOnce(t, string(example), "\t\tassign admin operator\n", "\t\tassign admin operator\n\t\trole orphan {\n\t\t\tpermissions job:view:own\n\t\t}\n\t\tproject chemlab\n")
	broken := replaceOnce(t, string(example), "\t\tassign admin operator\n", "\t\tassign admin superuser\n")
	noProvider := replaceOnce(t, string(example), "\t\t\tprovider appid\n", "\t\t\tprovider app-id\n")
	for _, tc := range []struct {
		name, config string
		want         int
		err          string
	}{
		{"the demo is clean", write("clean", string(example)), 0, ""},
		{"warnings", write("warn", warn), 3, ""}, // the documented status of warnings,
		{"a configuration error", write("broken", broken), 1, `unknown role "superuser"`},
		{"a rule for an unknown provider", write("broken-provider", noProvider), 1, `rules[0]: unknown identity provider "app-id"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, err := gov(t, "lint", "--config", tc.config, "--json")
			assert.Equal(t, tc.want, code)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Contains(t, err.Error(), filepath.Base(tc.config)+":", "names the file and line")
			} else {
				require.NoError(t, err)
			}
		})
	}
}
