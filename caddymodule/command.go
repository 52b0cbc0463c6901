package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/qgov/qgov/govcli"
	"github.com/qgov/qgov/simulator"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:      "gov",
		Usage:     "<command> ...",
		Short:     "Manages and inspects the governance of a qgov gateway",
		Long:      govcli.Help,
		CobraFunc: func(cmd *cobra.Command) { GovCommand(cmd, exitStatus) },
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "simulator",
		Usage: "[--listen <addr>] [--config <file>] [--max-qubits <n>]",
		Short: "Runs the bundled Qiskit Runtime simulator on its own",
		Long: `
Runs the bundled Qiskit Runtime simulator without Caddy: IBM Cloud IAM at
/identity/token, Global Search and Catalog for instance discovery, and the
Runtime API at /api/v1, executing Sampler and Estimator jobs on a state-vector
simulator. Point a Qiskit client at it with IAM_URL, GLOBAL_SEARCH_URL,
GLOBAL_CATALOG_URL and a url_resolver (see the README).

Without --config it serves the demo instances QR-ml, QR-finance and QR-common,
which accept the API key "demo-upstream-key". Stop it with Ctrl-C.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().StringP("listen", "l", "127.0.0.1:9090", "The address to listen on")
			cmd.Flags().StringP("config", "c", "", "A JSON simulator configuration file")
			cmd.Flags().Int("max-qubits", 0, "The largest number of active qubits a circuit may have (default 26)")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdSimulator)
		},
	})
}

// GovCommand builds the qgov gov commands under gov: the command line of
// package govcli, and lint and policies test, which read a Caddy config.
// exit decides how a command's exit status leaves the program.
func GovCommand(gov *cobra.Command, exit govcli.Exit) {
	policies := &cobra.Command{Use: "policies"}
	policies.AddCommand(policyTestCommand())
	gov.AddCommand(lintCommand(), policies)
	govcli.Attach(gov, govcli.Options{AuditDir: filepath.Join(caddy.AppDataDir(), "qgov", "audit")}, exit)
}

// exitStatus makes Caddy's main exit with a qgov gov command's status.
func exitStatus(cmd *cobra.Command, code int, err error) error {
	if code != caddy.ExitCodeSuccess && err == nil {
		err = fmt.Errorf("exit status %d", code)
	}
	return caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) { return code, err })(cmd, nil)
}

func cmdSimulator(fl caddycmd.Flags) (int, error) {
	cfg := simulator.Default()
	if path := fl.String("config"); path != "" {
		var err error
		if cfg, err = simulator.LoadConfig(path); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	}
	if n := fl.Int("max-qubits"); n != 0 {
		cfg.MaxQubits = n
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv, err := simulator.New(cfg, simulator.WithLogger(logger))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", fl.String("listen"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("listening: %w", err)
	}
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = httpSrv.Shutdown(shutdown)
	}()
	base := "http://" + ln.Addr().String()
	logger.Info("qgov simulator serving the Qiskit Runtime API", "url", base+"/api/v1", "iam", base+"/identity/token",
		"instances", len(cfg.Instances), "backends", len(cfg.Backends), "max_qubits", cfg.MaxQubits)
	if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return caddy.ExitCodeFailedQuit, err
	}
	return caddy.ExitCodeSuccess, nil
}
