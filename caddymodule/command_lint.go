package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/qgov/qgov/govcli"
	"github.com/qgov/qgov/governance"
	"github.com/qgov/qgov/org"
)

// lintCommand is qgov gov lint.
func lintCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lint --config <file> [--adapter <name>] [--json]",
		Short: "Reviews the organisation model of a config",
		Long: `
Loads a config (a Caddyfile, or JSON with --adapter "") and reviews the qgov
organisation in it without starting anything: configuration errors (unknown
roles, projects or permissions, inheritance cycles) with where they were
declared, then warnings that are legal but likely mistakes:

  substring             claim values, project names or role names that are
                        substrings of one another (ml vs mlReader, ml vs chemlab)
  dangling              access groups nobody is in, rules for another tenant's
                        identity provider
  unheld_role           custom roles no group or assignment gives
  unreachable_instance  instances no role reaches

Exit status: 0 when clean, 1 for a configuration error, 2 for wrong
arguments, 3 for warnings.`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringP("config", "c", "Caddyfile", "The configuration file")
	cmd.Flags().StringP("adapter", "a", "caddyfile", "The config adapter (empty for JSON)")
	cmd.Flags().Bool("json", false, "Print the findings as JSON")
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		return govcli.Status(cmdLint(c.OutOrStdout(), caddycmd.Flags{FlagSet: c.Flags()}))
	}
	return cmd
}

// exitWarnings is lint's exit status when it found warnings only.
const exitWarnings = 3

func cmdLint(w io.Writer, fl caddycmd.Flags) (int, error) {
	raw, _, _, err := caddycmd.LoadConfig(fl.String("config"), fl.String("adapter"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	var cfg struct {
		Apps struct {
			Qgov *App `json:"qgov"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("reading the config: %w", err)
	}
	a := cfg.Apps.Qgov
	if a == nil {
		return caddy.ExitCodeFailedStartup, errors.New("the config has no qgov app (global option qgov { … })")
	}
	_, findings, err := governance.BuildOrg(a.Config, a.APIKeys, a.IdentityProviders)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if fl.Bool("json") {
		if findings == nil {
			findings = []org.Finding{} // [] rather than null
		}
		if err := json.NewEncoder(w).Encode(map[string]any{"findings": findings}); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	} else {
		for _, f := range findings {
			fmt.Fprintf(w, "%-20s %s\n", f.Kind, f.Message)
		}
		fmt.Fprintf(w, "%d finding(s)\n", len(findings))
	}
	if len(findings) > 0 {
		return exitWarnings, nil
	}
	return caddy.ExitCodeSuccess, nil
}
