// Package e2e runs a real qgov Caddy in front of the real simulator: the
// demo configuration (Caddyfile.example) and the scenarios, attacks,
// clients and benchmarks built on it.
package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/qiskitclient"
	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/simulator"
	"github.com/qgov/qgov/simulator/appid"
)

// replaceOnce replaces the first old in a configuration template with
// new, and fails the test when the template has no old: an edit that no
// longer applies (Caddyfile.example was reworded or reformatted) must
// not leave a test running on a configuration it did not mean.
func replaceOnce(t testing.TB, template, old, new string) string {
	t.Helper()
	if !strings.Contains(template, old) {
		t.Fatalf("the configuration has no %q to replace: was Caddyfile.example changed?", old)
	}
	return strings.Replace(template, old, new, 1)
}

// demo is the demo configuration (Caddyfile.example) running in a real
// Caddy on free ports: the gateway in front of the bundled simulator.
type demo struct {
	tester  *caddytest.Tester
	gateway string // base URL
	sim     string // base URL
	config  string
}

// crn returns the real CRN of a demo instance alias such as "QR-ml".
func crn(alias string) string { return simulator.DemoCRN(strings.ToLower(alias)) }

// demoConfig rewrites Caddyfile.example for the test: caddytest's admin
// address, free ports, a small body limit, and extra site directives.
func demoConfig(t testing.TB, gwPort, simPort int, extra string) string {
	raw, err := os.ReadFile("../Caddyfile.example")
	require.NoError(t, err)
	cfg := string(raw)
	for _, r := range []struct{ old, new string }{
		{"admin localhost:2019", fmt.Sprintf("admin localhost:2999\n\tskip_install_trust\n\thttp_port %d", gwPort)},
		{"max_body_size 32MiB", "max_body_size 256KiB"},
		{":8080 {", fmt.Sprintf(":%d {\n\t%s", gwPort, extra)},
		{":9090 {", fmt.Sprintf(":%d {", simPort)},
	} {
		cfg = replaceOnce(t, cfg, r.old, r.new)
	}
	// the gateway's upstream: every instance names the simulator
	require.Contains(t, cfg, "127.0.0.1:9090", "Caddyfile.example's instances name the simulator at 127.0.0.1:9090")
	return strings.ReplaceAll(cfg, "127.0.0.1:9090", fmt.Sprintf("127.0.0.1:%d", simPort))
}

func startDemo(t *testing.T) *demo { return startDemoWith(t, "") }

// startDemoWith runs the demo with global qgov options added to it.
func startDemoWith(t *testing.T, qgovOptions string) *demo {
	return startDemoEdited(t, func(cfg string) string { return replaceOnce(t, cfg, "\tqgov {\n", "\tqgov {\n"+qgovOptions) })
}

// startDemoEdited runs the demo with its configuration edited.
func startDemoEdited(t *testing.T, edit func(string) string) *demo {
	t.Setenv("QGOV_DEMO_UPSTREAM_KEY", simulator.DemoAPIKey)
	t.Setenv("QGOV_DEMO_OIDC_SECRET", appid.DemoClientSecret)
	gw, sim := testenv.FreePort(t), testenv.FreePort(t)
	d := &demo{
		tester:  caddytest.NewTester(t),
		gateway: fmt.Sprintf("http://127.0.0.1:%d", gw),
		sim:     fmt.Sprintf("http://127.0.0.1:%d", sim),
		config:  edit(demoConfig(t, gw, sim, "")),
	}
	d.tester.InitServer(d.config, "caddyfile")
	return d
}

func (d *demo) client(key, alias string) *qiskitclient.Client {
	return &qiskitclient.Client{BaseURL: d.gateway, APIKey: key, CRN: crn(alias)}
}
