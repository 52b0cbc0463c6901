package rbac

// Limits are the limits a role carries (seed 004's custom roles). A field
// left unset is inherited from the roles the role inherits.
type Limits struct {
	MaxShotsPerJob        *int `json:"max_shots_per_job,omitempty" yaml:"max_shots_per_job"`
	MaxJobsPerHour        *int `json:"max_jobs_per_hour,omitempty" yaml:"max_jobs_per_hour"`
	MaxJobsPerDay         *int `json:"max_jobs_per_day,omitempty" yaml:"max_jobs_per_day"`
	MaxConcurrentJobs     *int `json:"max_concurrent_jobs,omitempty" yaml:"max_concurrent_jobs"`
	MaxQubitsPerCircuit   *int `json:"max_qubits_per_circuit,omitempty" yaml:"max_qubits_per_circuit"`
	MaxCircuitDepth       *int `json:"max_circuit_depth,omitempty" yaml:"max_circuit_depth"`
	MaxBatchSize          *int `json:"max_batch_size,omitempty" yaml:"max_batch_size"`
	MaxPriorityJobsPerDay *int `json:"max_priority_jobs_per_day,omitempty" yaml:"max_priority_jobs_per_day"`
	// Backends, when set, are the only backends the role may submit to.
	Backends []string `json:"backends,omitempty" yaml:"backends"`
	// BlockedBackends may never be used by the role.
	BlockedBackends []string `json:"blocked_backends,omitempty" yaml:"blocked_backends"`
}

// inherit fills the fields l leaves unset from parent.
func (l Limits) inherit(parent Limits) Limits {
	for _, f := range []struct{ dst, src **int }{
		{&l.MaxShotsPerJob, &parent.MaxShotsPerJob}, {&l.MaxJobsPerHour, &parent.MaxJobsPerHour},
		{&l.MaxJobsPerDay, &parent.MaxJobsPerDay}, {&l.MaxConcurrentJobs, &parent.MaxConcurrentJobs},
		{&l.MaxQubitsPerCircuit, &parent.MaxQubitsPerCircuit}, {&l.MaxCircuitDepth, &parent.MaxCircuitDepth},
		{&l.MaxBatchSize, &parent.MaxBatchSize}, {&l.MaxPriorityJobsPerDay, &parent.MaxPriorityJobsPerDay},
	} {
		if *f.dst == nil {
			*f.dst = *f.src
		}
	}
	if l.Backends == nil {
		l.Backends = parent.Backends
	}
	if l.BlockedBackends == nil {
		l.BlockedBackends = parent.BlockedBackends
	}
	return l
}

func (l Limits) validate() []string {
	var bad []string
	for name, v := range map[string]*int{
		"max_shots_per_job": l.MaxShotsPerJob, "max_jobs_per_hour": l.MaxJobsPerHour, "max_jobs_per_day": l.MaxJobsPerDay,
		"max_concurrent_jobs": l.MaxConcurrentJobs, "max_qubits_per_circuit": l.MaxQubitsPerCircuit,
		"max_circuit_depth": l.MaxCircuitDepth, "max_batch_size": l.MaxBatchSize, "max_priority_jobs_per_day": l.MaxPriorityJobsPerDay,
	} {
		if v != nil && *v < 0 {
			bad = append(bad, name+" must not be negative")
		}
	}
	return bad
}
