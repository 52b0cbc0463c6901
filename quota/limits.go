package quota

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

// Limits are what a tenant, project, role, user or API key may submit:
// IBM's enterprise-governance limits. A field left unset says nothing at that level.
type Limits struct {
	// MaxConcurrentJobs bounds jobs admitted and not yet ended.
	MaxConcurrentJobs *int `json:"max_concurrent_jobs,omitempty" yaml:"max_concurrent_jobs"`
	// MaxJobsPerHour and MaxJobsPerDay bound jobs admitted per UTC clock
	// hour and per UTC day.
	MaxJobsPerHour *int `json:"max_jobs_per_hour,omitempty" yaml:"max_jobs_per_hour"`
	MaxJobsPerDay  *int `json:"max_jobs_per_day,omitempty" yaml:"max_jobs_per_day"`
	// MaxPriorityJobsPerDay bounds jobs sent to the priority queue per
	// UTC day.
	MaxPriorityJobsPerDay *int `json:"max_priority_jobs_per_day,omitempty" yaml:"max_priority_jobs_per_day"`
	// MaxQubitsPerCircuit bounds the qubits any circuit of a job touches,
	// and MaxCircuitDepth its depth.
	MaxQubitsPerCircuit *int `json:"max_qubits_per_circuit,omitempty" yaml:"max_qubits_per_circuit"`
	MaxCircuitDepth     *int `json:"max_circuit_depth,omitempty" yaml:"max_circuit_depth"`
	// MaxShotsPerJob bounds a job's total shots (bindings × shots, summed
	// over its pubs).
	MaxShotsPerJob *int `json:"max_shots_per_job,omitempty" yaml:"max_shots_per_job"`
	// MaxBatchSize bounds the pubs of one job.
	MaxBatchSize *int `json:"max_batch_size,omitempty" yaml:"max_batch_size"`
	// RequestsPerMinute bounds Runtime API requests per UTC minute.
	RequestsPerMinute *int `json:"requests_per_minute,omitempty" yaml:"requests_per_minute"`
	// AllowedBackends, when set, are the only backends jobs may use;
	// "simulator" stands for every simulator. (YAML also accepts
	// "backends", as in IBM's enterprise-governance custom roles.)
	AllowedBackends []string `json:"allowed_backends,omitempty" yaml:"allowed_backends"`
	// BlockedBackends may never be used.
	BlockedBackends []string `json:"blocked_backends,omitempty" yaml:"blocked_backends"`
	// Raise lets these limits exceed those of the less specific levels;
	// without it a level may only lower them. API keys never raise.
	Raise bool `json:"raise,omitempty" yaml:"raise"`
}

// Field is one numeric limit.
type Field int

// The numeric limits, in the order denials check them.
const (
	MaxShotsPerJob Field = iota
	MaxBatchSize
	MaxQubitsPerCircuit
	MaxCircuitDepth
	MaxConcurrentJobs
	MaxJobsPerHour
	MaxJobsPerDay
	MaxPriorityJobsPerDay
	RequestsPerMinute
	numFields
)

var fieldNames = [numFields]string{"max_shots_per_job", "max_batch_size", "max_qubits_per_circuit", "max_circuit_depth",
	"max_concurrent_jobs", "max_jobs_per_hour", "max_jobs_per_day", "max_priority_jobs_per_day", "requests_per_minute"}

// String is the limit's configuration name.
func (f Field) String() string { return fieldNames[f] }

// ptr returns the field's place in l.
func (l *Limits) ptr(f Field) **int {
	return [numFields]**int{&l.MaxShotsPerJob, &l.MaxBatchSize, &l.MaxQubitsPerCircuit, &l.MaxCircuitDepth,
		&l.MaxConcurrentJobs, &l.MaxJobsPerHour, &l.MaxJobsPerDay, &l.MaxPriorityJobsPerDay, &l.RequestsPerMinute}[f]
}

// Get returns a numeric limit and whether it is set.
func (l *Limits) Get(f Field) (int, bool) {
	if p := *l.ptr(f); p != nil {
		return *p, true
	}
	return 0, false
}

// Set sets a numeric limit.
func (l *Limits) Set(f Field, v int) { *l.ptr(f) = &v }

// FieldByName finds a numeric limit by its configuration name.
func FieldByName(name string) (Field, bool) {
	i := slices.Index(fieldNames[:], name)
	return Field(i), i >= 0
}

// Inherit fills the fields l leaves unset from parent (a role's limits
// from the roles it inherits).
func (l Limits) Inherit(parent Limits) Limits {
	for f := Field(0); f < numFields; f++ {
		if p := l.ptr(f); *p == nil {
			*p = *parent.ptr(f)
		}
	}
	if l.AllowedBackends == nil {
		l.AllowedBackends = parent.AllowedBackends
	}
	if l.BlockedBackends == nil {
		l.BlockedBackends = parent.BlockedBackends
	}
	return l
}

// Validate lists what is wrong with the limits.
func (l Limits) Validate() []string {
	var bad []string
	for f := Field(0); f < numFields; f++ {
		if v, ok := l.Get(f); ok && v < 0 {
			bad = append(bad, f.String()+" must not be negative")
		}
	}
	return bad
}

// UnmarshalYAML accepts "backends" for allowed_backends.
func (l *Limits) UnmarshalYAML(n *yaml.Node) error {
	type plain Limits
	var aux struct {
		plain    `yaml:",inline"`
		Backends []string `yaml:"backends"`
	}
	if err := n.Decode(&aux); err != nil {
		return err
	}
	*l = Limits(aux.plain)
	if aux.Backends != nil {
		if l.AllowedBackends != nil {
			return fmt.Errorf("line %d: give backends or allowed_backends, not both", n.Line)
		}
		l.AllowedBackends = aux.Backends
	}
	return nil
}

// YAMLAliases names the keys UnmarshalYAML accepts besides the fields'.
func (Limits) YAMLAliases() []string { return []string{"backends"} }

// backendListed reports whether a list of allowed backends admits one;
// "simulator" admits every simulator.
func backendListed(list []string, backend string) bool {
	return slices.Contains(list, backend) || (runtimeapi.IsSimulator(backend) && slices.Contains(list, "simulator"))
}
