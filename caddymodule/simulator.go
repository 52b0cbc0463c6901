package caddymodule

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/qgov/qgov/simulator"
)

func init() {
	caddy.RegisterModule(Simulator{})
}

// simulators holds running simulators by configuration fingerprint, so
// jobs, sessions and tokens survive config reloads that keep the same
// simulator configuration.
var simulators = caddy.NewUsagePool()

// pooledSimulator lets the usage pool close a simulator when its last
// configuration is unloaded.
type pooledSimulator struct{ *simulator.Server }

// Destruct stops the simulator's workers.
func (p pooledSimulator) Destruct() error { return p.Close() }

// Simulator serves the bundled Qiskit Runtime simulator: IBM Cloud IAM
// (/identity/token, /identity/keys), Global Search and Catalog, and the
// Runtime API under /api/v1. It answers every request itself, so it is
// usually the only handler of its site or route.
//
// The simulator's state (jobs, sessions, signing key) survives config
// reloads as long as its configuration is unchanged.
type Simulator struct {
	// ConfigFile is a JSON file configuring instances, backends and limits
	// (see the simulator package's Config); omitted fields take their
	// defaults. Without it the demo instances QR-ml, QR-finance and
	// QR-common accept the API key "demo-upstream-key".
	ConfigFile string `json:"config_file,omitempty"`
	// MaxQubits overrides the largest number of active qubits a circuit
	// may have (default 26).
	MaxQubits int `json:"max_qubits,omitempty"`
	// Workers overrides the number of jobs executed at once (default: the
	// number of CPUs).
	Workers int `json:"workers,omitempty"`
	// QueueSize overrides how many jobs may wait to run (default 256);
	// a submission beyond it gets 429.
	QueueSize int `json:"queue_size,omitempty"`

	key    string
	server *simulator.Server
}

// CaddyModule returns the Caddy module information.
func (Simulator) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.qgov_simulator",
		New: func() caddy.Module { return new(Simulator) },
	}
}

// simulatorConfig builds the simulator configuration the module describes.
func (s *Simulator) simulatorConfig() (simulator.Config, error) {
	cfg := simulator.Default()
	if s.ConfigFile != "" {
		var err error
		if cfg, err = simulator.LoadConfig(s.ConfigFile); err != nil {
			return cfg, err
		}
	}
	if s.MaxQubits != 0 {
		cfg.MaxQubits = s.MaxQubits
	}
	if s.Workers != 0 {
		cfg.Workers = s.Workers
	}
	if s.QueueSize != 0 {
		cfg.QueueSize = s.QueueSize
	}
	return cfg, cfg.Validate()
}

// Provision starts the simulator, or reuses the one already running with
// the same configuration.
func (s *Simulator) Provision(caddy.Context) error {
	cfg, err := s.simulatorConfig()
	if err != nil {
		return fmt.Errorf("qgov_simulator: %w", err)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("qgov_simulator: fingerprinting config: %w", err)
	}
	sum := sha256.Sum256(raw)
	s.key = "qgov_simulator:" + hex.EncodeToString(sum[:])
	val, _, err := simulators.LoadOrNew(s.key, func() (caddy.Destructor, error) {
		srv, err := simulator.New(cfg)
		if err != nil {
			return nil, err
		}
		return pooledSimulator{srv}, nil
	})
	if err != nil {
		s.key = ""
		return fmt.Errorf("qgov_simulator: starting: %w", err)
	}
	s.server = val.(pooledSimulator).Server
	return nil
}

// Cleanup releases this configuration's reference to the simulator.
func (s *Simulator) Cleanup() error {
	if s.key == "" {
		return nil
	}
	_, err := simulators.Delete(s.key)
	return err
}

// ServeHTTP answers the request from the simulator.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	s.server.ServeHTTP(w, r)
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Simulator)(nil)
	_ caddy.CleanerUpper          = (*Simulator)(nil)
	_ caddyhttp.MiddlewareHandler = (*Simulator)(nil)
	_ caddy.Destructor            = pooledSimulator{}
)
