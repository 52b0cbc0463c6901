package e2e

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"

	"github.com/qgov/qgov/caddymodule"
	"github.com/qgov/qgov/govcli"
)

// gov runs a qgov gov command in process, as `qgov gov args...` does,
// and returns its exit status, its output and its error.
func gov(t *testing.T, args ...string) (int, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "gov", SilenceErrors: true, SilenceUsage: true}
	caddymodule.GovCommand(root, func(_ *cobra.Command, code int, err error) error { return &govcli.ExitError{Code: code, Err: err} })
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	var ee *govcli.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.Code, out.String(), ee.Err
	case err != nil:
		return 1, out.String(), err
	}
	return 0, out.String(), nil
}

// TestGovUsageErrorsExitTwo checks the documented exit status of wrong
// arguments, unknown flags and unknown commands.
func TestGovUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"tenants", "get"},               // a missing argument
		{"tenants", "list", "extra"},     // one too many
		{"tenants", "list", "--no-such"}, // an unknown flag
		{"tenants", "frobnicate"},        // an unknown verb
		{"no-such-kind"},                 // an unknown command
		{"lint", "--config"},             // a flag without its value
		{"audit", "verify", "a", "b"},    // one too many
		{"policies", "test", "surplus"},  // lint and policies test too
	} {
		code, _, err := gov(t, args...)
		assert.Equal(t, 2, code, "%v: %v", args, err)
	}
}
