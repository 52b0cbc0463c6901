package runtimeapi

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Job states as the Runtime API spells them.
const (
	StatusQueued    = "Queued"
	StatusRunning   = "Running"
	StatusCompleted = "Completed"
	StatusFailed    = "Failed"
	StatusCancelled = "Cancelled"
)

// ReasonCodeRanTooLong marks a job cancelled for exceeding its maximum
// execution time; the Qiskit client reports it as RuntimeJobMaxTimeoutError.
const ReasonCodeRanTooLong = 1305

// Final reports whether a job status is final.
func Final(status string) bool {
	return status == StatusCompleted || status == StatusFailed || status == StatusCancelled
}

// JobState is the state document of a job.
type JobState struct {
	Status         string `json:"status"`
	Reason         string `json:"reason,omitempty"`
	ReasonCode     int    `json:"reason_code,omitempty"`
	ReasonSolution string `json:"reason_solution,omitempty"`
}

// JobProgram names the program a job runs.
type JobProgram struct {
	ID string `json:"id"`
}

// JobUsage is the usage summary embedded in a job document.
type JobUsage struct {
	QuantumSeconds float64 `json:"quantum_seconds"`
	Seconds        float64 `json:"seconds"`
}

// Job is the document of GET /jobs/{id} and of each entry of GET /jobs.
type Job struct {
	ID                          string          `json:"id"`
	Backend                     string          `json:"backend"`
	State                       JobState        `json:"state"`
	Status                      string          `json:"status"`
	Params                      json.RawMessage `json:"params,omitempty"`
	Program                     JobProgram      `json:"program"`
	Created                     time.Time       `json:"created"`
	EndTime                     *time.Time      `json:"end_time,omitempty"`
	Runtime                     string          `json:"runtime"`
	SessionID                   string          `json:"session_id,omitempty"`
	Tags                        []string        `json:"tags"`
	Private                     bool            `json:"private"`
	Cost                        int             `json:"cost"`
	LogLevel                    string          `json:"log_level,omitempty"`
	EstimatedRunningTimeSeconds float64         `json:"estimated_running_time_seconds"`
	Usage                       JobUsage        `json:"usage"`
	UserID                      string          `json:"user_id,omitempty"`
}

// JobList is the document of GET /jobs; Count is the number of matching
// jobs regardless of limit and offset.
type JobList struct {
	Jobs   []Job `json:"jobs"`
	Count  int   `json:"count"`
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
}

// JobCreated is the answer to POST /jobs.
type JobCreated struct {
	ID        string `json:"id"`
	Backend   string `json:"backend"`
	SessionID string `json:"session_id,omitempty"`
}

// MetricsTimestamps are the timestamps of GET /jobs/{id}/metrics.
type MetricsTimestamps struct {
	Created  time.Time  `json:"created"`
	Running  *time.Time `json:"running"`
	Finished *time.Time `json:"finished"`
}

// MetricsUsage is the usage block of GET /jobs/{id}/metrics; clients up to
// 0.47 read QuantumSeconds, later ones Status and QPUChargeTimeSeconds.
type MetricsUsage struct {
	Status               string  `json:"status"`
	QuantumSeconds       float64 `json:"quantum_seconds"`
	Seconds              float64 `json:"seconds"`
	QPUChargeTimeSeconds float64 `json:"qpu_charge_time_seconds"`
}

// JobMetrics is the document of GET /jobs/{id}/metrics.
type JobMetrics struct {
	Timestamps     MetricsTimestamps `json:"timestamps"`
	Bss            map[string]any    `json:"bss"`
	Usage          MetricsUsage      `json:"usage"`
	Executions     int               `json:"executions"`
	NumCircuits    int               `json:"num_circuits"`
	NumQubits      []int             `json:"num_qubits"`
	CircuitDepths  []int             `json:"circuit_depths"`
	QiskitVersion  string            `json:"qiskit_version"`
	Caller         string            `json:"caller"`
	PositionQueue  *int              `json:"position_in_queue,omitempty"`
	EstimatedStart *time.Time        `json:"estimated_start_time,omitempty"`
}

// TagsUpdate is the body of PUT /jobs/{id}/tags.
type TagsUpdate struct {
	Tags []string `json:"tags"`
}

// SessionRequest is the body of POST /sessions.
type SessionRequest struct {
	Mode     string `json:"mode"`
	Backend  string `json:"backend"`
	Instance string `json:"instance,omitempty"`
	MaxTTL   int    `json:"max_ttl,omitempty"`
}

// SessionUpdate is the body of PATCH /sessions/{id}.
type SessionUpdate struct {
	AcceptingJobs *bool `json:"accepting_jobs"`
}

// Session is the document of GET /sessions/{id} (and of POST /sessions).
type Session struct {
	ID               string     `json:"id"`
	BackendName      string     `json:"backend_name"`
	Mode             string     `json:"mode"`
	State            string     `json:"state"`
	AcceptingJobs    bool       `json:"accepting_jobs"`
	InteractiveTTL   int        `json:"interactive_ttl"`
	MaxTTL           int        `json:"max_ttl"`
	ActiveTTL        int        `json:"active_ttl"`
	StartedAt        *time.Time `json:"started_at"`
	ActivatedAt      *time.Time `json:"activated_at"`
	ClosedAt         *time.Time `json:"closed_at"`
	LastJobStarted   *time.Time `json:"last_job_started"`
	LastJobCompleted *time.Time `json:"last_job_completed"`
	ElapsedTime      float64    `json:"elapsed_time"`
	CreatedAt        time.Time  `json:"created_at"`
}

// UsagePeriod is the accounting period of an instance's usage.
type UsagePeriod struct {
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
}

// InstanceUsage is the document of GET /instances/usage.
type InstanceUsage struct {
	InstanceID             string      `json:"instance_id"`
	PlanID                 string      `json:"plan_id"`
	UsagePeriod            UsagePeriod `json:"usage_period"`
	UsageConsumedSeconds   float64     `json:"usage_consumed_seconds"`
	UsageLimitSeconds      *float64    `json:"usage_limit_seconds,omitempty"`
	UsageAllocationSeconds *float64    `json:"usage_allocation_seconds,omitempty"`
	UsageRemainingSeconds  *float64    `json:"usage_remaining_seconds,omitempty"`
	UsageLimitReached      bool        `json:"usage_limit_reached"`
}

// BackendStatus is the document of GET /backends/{name}/status.
type BackendStatus struct {
	State          bool   `json:"state"`
	Status         string `json:"status"`
	Message        string `json:"message"`
	LengthQueue    int    `json:"length_queue"`
	BackendVersion string `json:"backend_version"`
}

// IsSimulator reports whether a backend is a simulator: its name has
// "simulator" as one of its underscore-separated words
// ("qgov_simulator", "ibmq_qasm_simulator", "simulator_stabilizer", or
// just "simulator").
func IsSimulator(backend string) bool {
	return slices.Contains(strings.Split(backend, "_"), "simulator")
}
