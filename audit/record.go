// Package audit is qgov's audit trail: one Record per decision, admin
// change, sign-in, key or session event, approval, budget threshold and
// policy error, delivered off the request path through a bounded queue to
// sinks (a hash-chained JSON-lines file, a Redis Stream, the server log),
// then queried and verified.
package audit

import (
	"encoding/json"
	"time"
)

// Record is one entry of the trail. Its fields are IBM's enterprise-governance audit
// schema, the initiator fields of IBM Cloud Activity Tracker, and what
// qgov adds: the decision's code, reasons and rule ids, the upstream job
// id and the trace id the caller saw. A record never holds a secret or a
// token.
type Record struct {
	AuditID   string    `json:"audit_id"`
	Timestamp time.Time `json:"timestamp"`
	TenantID  string    `json:"tenant_id,omitempty"`
	UserID    string    `json:"user_id,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
	// InitiatorAuthnName and InitiatorAuthnID name the caller as IBM
	// Cloud's Activity Tracker does: a display name (or e-mail) and the
	// identity's id.
	InitiatorAuthnName string `json:"initiator_authnName,omitempty"`
	InitiatorAuthnID   string `json:"initiator_authnId,omitempty"`
	// KeyID is the API key the caller authenticated with, if any.
	KeyID string `json:"key_id,omitempty"`
	// TargetUserID is the user whose key or session an action changed,
	// when not the caller.
	TargetUserID string `json:"target_user_id,omitempty"`
	// Category groups actions: request, auth, key, session, admin,
	// approval, budget, policy or system.
	Category string   `json:"category"`
	Action   string   `json:"action"`
	Resource Resource `json:"resource"`
	Request  *Request `json:"request,omitempty"`
	// Outcome is success, denied, held, modified or failure.
	Outcome string `json:"outcome"`
	// Status is the HTTP status answered.
	Status int `json:"status,omitempty"`
	// Code is a denial's error code.
	Code string `json:"code,omitempty"`
	// Reasons say why, in the words the caller saw.
	Reasons []string `json:"reasons,omitempty"`
	// RuleIDs name the rules, policies or limits that decided.
	RuleIDs []string `json:"rule_ids,omitempty"`
	Project string   `json:"project,omitempty"`
	// Instance is the service instance's alias.
	Instance string `json:"instance,omitempty"`
	// UpstreamJobID is the job id the upstream gave a job.
	UpstreamJobID string `json:"upstream_job_id,omitempty"`
	// TraceID is the trace of the answer's error body, or the request's
	// id: the same value the caller can quote.
	TraceID   string `json:"trace_id,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// Before and After hold an admin change's object.
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	// Note records what an allowed request should be audited for.
	Note string `json:"note,omitempty"`
	// Count, when above one, is how many identical reads this record
	// stands for: the same caller reading the same object with the same
	// answer, from Timestamp to LastTimestamp (Options.FoldReads).
	Count         int        `json:"count,omitempty"`
	LastTimestamp *time.Time `json:"last_timestamp,omitempty"`

	// Seq and PrevHash link the record into the hash chain; the writer
	// sets them, with the hash that follows them in the file.
	Seq      uint64 `json:"seq"`
	PrevHash string `json:"prev_hash"`
	// Hash is read back from the file; it is written after the body.
	Hash string `json:"hash,omitempty"`
}

// Resource is what an action acted on.
type Resource struct {
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
}

// Request holds the facts of a request that matter later: what was
// asked for, on which backend, at what cost.
type Request struct {
	Method  string   `json:"method,omitempty"`
	Path    string   `json:"path,omitempty"`
	Program string   `json:"program,omitempty"`
	Backend string   `json:"backend,omitempty"`
	Shots   int      `json:"shots,omitempty"`
	Pubs    int      `json:"pubs,omitempty"`
	Session string   `json:"session,omitempty"`
	Tags    []string `json:"tags,omitempty"`
	// EstimatedCostUSD is a job's estimated cost at admission;
	// CostUSD its actual cost once known.
	EstimatedCostUSD float64 `json:"estimated_cost_usd,omitempty"`
	CostUSD          float64 `json:"cost_usd,omitempty"`
	// QuantumSeconds is the job's actual usage.
	QuantumSeconds float64 `json:"quantum_seconds,omitempty"`
}

// Outcomes.
const (
	Success  = "success"
	Denied   = "denied"
	Held     = "held"
	Modified = "modified"
	Failure  = "failure"
)

// Outcomes lists every outcome.
var Outcomes = []string{Success, Denied, Held, Modified, Failure}

// Categories.
const (
	CategoryRequest  = "request"
	CategoryAuth     = "auth"
	CategoryKey      = "key"
	CategorySession  = "session"
	CategoryAdmin    = "admin"
	CategoryApproval = "approval"
	CategoryBudget   = "budget"
	CategoryPolicy   = "policy"
	CategorySystem   = "system"
)

// Categories lists every category.
var Categories = []string{CategoryRequest, CategoryAuth, CategoryKey, CategorySession, CategoryAdmin,
	CategoryApproval, CategoryBudget, CategoryPolicy, CategorySystem}

// Cost is the record's spend: the actual cost when known, else the
// estimate.
func (r *Record) Cost() float64 {
	if r.Request == nil {
		return 0
	}
	if r.Request.CostUSD != 0 {
		return r.Request.CostUSD
	}
	return r.Request.EstimatedCostUSD
}
