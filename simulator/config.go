// Package simulator is a local stand-in for IBM Cloud's Qiskit Runtime: an
// IAM token service, Global Search and Catalog for instance discovery, and
// the Runtime API (backends, jobs, sessions, usage) executing Sampler and
// Estimator jobs on a state-vector simulator, and an App ID tenant where
// the demo's users sign in (package appid).
package simulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/qgov/qgov/ibm/discovery"
	"github.com/qgov/qgov/simulator/appid"
)

// Config configures the simulator. The zero value of every field means its
// documented default; Default returns the demo configuration.
type Config struct {
	// Instances are the service instances the simulator serves. Default:
	// QR-ml, QR-finance and QR-common, each accepting demo-upstream-key.
	Instances []InstanceConfig `json:"instances,omitempty"`
	// Backends are the devices every instance may use (unless the instance
	// lists its own). Default: ibm_qgov_eagle (127 qubits, heavy-hex),
	// ibm_qgov_kestrel (20 qubits, line) and qgov_simulator.
	Backends []BackendConfig `json:"backends,omitempty"`
	// MaxQubits is the largest number of active qubits a circuit may have.
	// Default 26 (a 1 GiB state vector).
	MaxQubits int `json:"max_qubits,omitempty"`
	// Workers is the number of jobs executed at once. Default: the number
	// of CPUs.
	Workers int `json:"workers,omitempty"`
	// QueueSize bounds the number of queued jobs; a submission beyond it is
	// answered 429. Default 256.
	QueueSize int `json:"queue_size,omitempty"`
	// MaxBodyBytes bounds request bodies; larger ones are answered 413.
	// Default 16 MiB.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	// TokenTTLSeconds is the lifetime of issued IAM tokens. Default 3600.
	TokenTTLSeconds int `json:"token_ttl_seconds,omitempty"`
	// MaxExecutionSeconds caps a job's max_execution_time and is the
	// default when the job names none. Default 10800 (3 hours).
	MaxExecutionSeconds int `json:"max_execution_seconds,omitempty"`
	// RetainJobs is the number of finished jobs kept per instance; older
	// finished jobs are deleted. Default 10000.
	RetainJobs int `json:"retain_jobs,omitempty"`
	// RetainHours is how long finished jobs are kept. Default 168 (7 days).
	RetainHours int `json:"retain_hours,omitempty"`
	// Issuer is the "iss" claim of issued tokens. Default "qgov-simulator".
	Issuer string `json:"issuer,omitempty"`
	// AppID configures the App ID stand-in served under
	// /oauth/v4/<tenant_id>. Default: the demo tenant "qgovdemo" with the
	// demo scenario's users (see package appid).
	AppID appid.Config `json:"app_id,omitzero"`
}

// InstanceConfig is one Qiskit Runtime service instance.
type InstanceConfig struct {
	// Name is the instance's display name, e.g. "QR-ml".
	Name string `json:"name"`
	// CRN is the instance's cloud resource name.
	CRN string `json:"crn"`
	// Plan is the service plan: "standard" (default), "open", "premium",
	// "flex" or "paygo".
	Plan string `json:"plan,omitempty"`
	// APIKeys are the IBM Cloud API keys that may use the instance.
	APIKeys []string `json:"api_keys"`
	// Backends restricts the instance to these backends; empty means all.
	Backends []string `json:"backends,omitempty"`
	// UsageLimitSeconds is the instance's monthly quantum-time limit; when
	// it is reached, submissions are refused. Empty means unlimited.
	UsageLimitSeconds *float64 `json:"usage_limit_seconds,omitempty"`
}

// DemoAPIKey is the upstream API key every demo instance accepts.
const DemoAPIKey = "demo-upstream-key"

// DemoCRN returns the CRN of a demo instance such as "qr-ml".
func DemoCRN(id string) string {
	return "crn:v1:bluemix:public:quantum-computing:us-east:a/qgovdemo:" + id + "::"
}

// Default returns the demo configuration with every default filled in.
func Default() Config {
	var c Config
	c.applyDefaults()
	return c
}

// LoadConfig reads a JSON configuration file; fields it omits take their
// defaults.
func LoadConfig(path string) (Config, error) {
	var c Config
	raw, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("reading simulator config: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("parsing simulator config %s: %w", path, err)
	}
	c.applyDefaults()
	return c, c.Validate()
}

func (c *Config) applyDefaults() {
	if len(c.Instances) == 0 {
		for _, name := range []string{"ml", "finance", "common"} {
			c.Instances = append(c.Instances, InstanceConfig{
				Name: "QR-" + name, CRN: DemoCRN("qr-" + name), APIKeys: []string{DemoAPIKey},
			})
		}
	}
	for i := range c.Instances {
		if c.Instances[i].Plan == "" {
			c.Instances[i].Plan = "standard"
		}
	}
	if len(c.Backends) == 0 {
		c.Backends = []BackendConfig{
			{Name: "ibm_qgov_eagle", NumQubits: 127, Topology: TopologyEagle, Processor: "Eagle", Revision: 3},
			{Name: "ibm_qgov_kestrel", NumQubits: 20, Topology: TopologyLine, Processor: "Heron", Revision: 2},
			{Name: "qgov_simulator", NumQubits: 32, Simulator: true},
		}
	}
	setDefault(&c.MaxQubits, 26)
	setDefault(&c.Workers, runtime.NumCPU())
	setDefault(&c.QueueSize, 256)
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 16 << 20
	}
	setDefault(&c.TokenTTLSeconds, 3600)
	setDefault(&c.MaxExecutionSeconds, 10800)
	setDefault(&c.RetainJobs, 10000)
	setDefault(&c.RetainHours, 168)
	if c.Issuer == "" {
		c.Issuer = "qgov-simulator"
	}
}

func setDefault(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// Validate reports configuration errors, all of them at once.
func (c Config) Validate() error {
	var errs []error
	names, crns := map[string]bool{}, map[string]bool{}
	backends := map[string]bool{}
	for i, b := range c.Backends {
		if err := b.validate(); err != nil {
			errs = append(errs, fmt.Errorf("backends[%d]: %w", i, err))
		}
		if backends[b.Name] {
			errs = append(errs, fmt.Errorf("backends[%d]: duplicate name %q", i, b.Name))
		}
		backends[b.Name] = true
	}
	for i, in := range c.Instances {
		switch {
		case in.Name == "" || in.CRN == "":
			errs = append(errs, fmt.Errorf("instances[%d]: name and crn are required", i))
		case !strings.HasPrefix(in.CRN, "crn:v1:") || len(strings.Split(in.CRN, ":")) < 8:
			errs = append(errs, fmt.Errorf("instances[%d]: %q is not a CRN (crn:v1:<cname>:<ctype>:<service>:<region>:<scope>:<id>::)", i, in.CRN))
		case names[in.Name] || crns[in.CRN]:
			errs = append(errs, fmt.Errorf("instances[%d]: duplicate name or CRN", i))
		}
		names[in.Name], crns[in.CRN] = true, true
		if len(in.APIKeys) == 0 {
			errs = append(errs, fmt.Errorf("instances[%d]: at least one api_keys entry is required", i))
		}
		if !discovery.KnownPlan(in.Plan) {
			errs = append(errs, fmt.Errorf("instances[%d]: unknown plan %q (known: %s)", i, in.Plan, discovery.Plans))
		}
		for _, b := range in.Backends {
			if !backends[b] {
				errs = append(errs, fmt.Errorf("instances[%d]: unknown backend %q", i, b))
			}
		}
	}
	if c.MaxQubits < 1 || c.MaxQubits > 34 {
		errs = append(errs, fmt.Errorf("max_qubits must be 1 to 34, got %d", c.MaxQubits))
	}
	if c.Workers < 1 || c.QueueSize < 1 || c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("workers and queue_size must be positive and max_body_bytes at least 1024"))
	}
	return errors.Join(errs...)
}

func (c Config) retention() time.Duration { return time.Duration(c.RetainHours) * time.Hour }
