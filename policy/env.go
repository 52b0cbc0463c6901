package policy

import (
	"strings"
	"time"
)

// Env is what a condition sees: the request, its caller and its clock.
// Names are written as below; a condition naming anything else fails to
// compile.
//
// Job fields are zero for requests that submit no job. The clock fields
// are in the tenant's time zone (the tenant setting time_zone; UTC by
// default).
type Env struct {
	// User is the caller's user id, Email their address when known.
	User  string `expr:"user" json:"user"`
	Email string `expr:"email" json:"email"`
	// Roles are the caller's role names in the project (tenant-wide
	// roles included).
	Roles []string `expr:"roles" json:"roles"`
	// Tenant, Project and Instance (the alias) locate the request.
	Tenant   string `expr:"tenant" json:"tenant"`
	Project  string `expr:"project" json:"project"`
	Instance string `expr:"instance" json:"instance"`
	// KeyID is the caller's API key, "" for a token or browser session.
	KeyID string `expr:"key_id" json:"key_id"`
	// Action is the request's IBM action, e.g. quantum-computing.job.create.
	Action string `expr:"action" json:"action"`
	// Program is the job's program (sampler, estimator, …).
	Program string `expr:"program" json:"program"`
	// Backend is the job's backend. Compared with == or != to the word
	// 'simulator', it matches every simulator backend; Simulator says
	// the same.
	Backend   string `expr:"backend" json:"backend"`
	Simulator bool   `expr:"simulator" json:"simulator"`
	// Shots is the job's total shots (bindings × shots over its pubs);
	// -1 when the circuits could not be read.
	Shots int `expr:"shots" json:"shots"`
	// Pubs is the number of pubs, Qubits the widest circuit's qubits and
	// Depth the deepest circuit's depth.
	Pubs   int `expr:"pubs" json:"pubs"`
	Qubits int `expr:"qubits" json:"qubits"`
	Depth  int `expr:"depth" json:"depth"`
	// EstimatedCostUSD is the job's estimated cost (see the quotas cost
	// model); RemainingBudgetUSD the least left in the tenant's and the
	// project's monthly budgets before it, -1 when no budget applies.
	EstimatedCostUSD   float64 `expr:"estimated_cost_usd" json:"estimated_cost_usd"`
	RemainingBudgetUSD float64 `expr:"remaining_budget_usd" json:"remaining_budget_usd"`
	// Tags are the job's tags as a map: "experiment:vqe" gives
	// tags.experiment == 'vqe', a bare tag "experiment" gives true. A
	// missing tag is nil; in a boolean place (not tags.x, tags.x and …)
	// a tag counts as true when present and not empty.
	Tags map[string]any `expr:"tags" json:"tags"`
	// Priority is "high" for the priority queue, else "normal".
	Priority string `expr:"priority" json:"priority"`
	// Session is the job's session id.
	Session string `expr:"session" json:"session"`
	// ClientIP is the caller's address as the server established it.
	ClientIP string `expr:"client_ip" json:"client_ip"`
	// DayOfWeek ("Monday" … "Sunday"), Hour (0–23) and Date
	// ("2026-11-21") are the request's time in the tenant's time zone.
	DayOfWeek string `expr:"day_of_week" json:"day_of_week"`
	Hour      int    `expr:"hour" json:"hour"`
	Date      string `expr:"date" json:"date"`
}

// SetTime fills the clock fields from t in loc (UTC when nil).
func (e *Env) SetTime(t time.Time, loc *time.Location) {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	e.DayOfWeek, e.Hour, e.Date = t.Weekday().String(), t.Hour(), t.Format(time.DateOnly)
}

// Tags turns job tags into the map conditions read: "key:value" (or
// "key=value") maps key to value, a bare tag maps to true.
func Tags(tags []string) map[string]any {
	m := make(map[string]any, len(tags))
	for _, t := range tags {
		if k, v, ok := strings.Cut(t, ":"); ok {
			m[k] = v
		} else if k, v, ok := strings.Cut(t, "="); ok {
			m[k] = v
		} else {
			m[t] = true
		}
	}
	return m
}
