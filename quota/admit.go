package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/store"
)

// Caller is who makes a request, as limits see them.
type Caller struct {
	Tenant  string
	Project string
	User    string
	// KeyID is the API key the request came with ("" for a token or
	// session), and KeyRate that key's own requests per minute (0: none).
	KeyID   string
	KeyRate int
	// Roles are the limits of the caller's roles in the project.
	Roles []RoleLimits
}

// Job is a submission to admit.
type Job struct {
	Caller
	Instance string
	Backend  string
	// Priority asks for the priority queue.
	Priority bool
	Sub      *runtimeapi.Submission
	// RateCounted says Precheck has counted the submission against the
	// caller's requests per minute.
	RateCounted bool
	// Node is the replica that admits the job and forwards it.
	Node string
}

// Admission is an admitted job: its reservation, to be bound to the
// upstream job, settled when the job ends, or released when the upstream
// refuses it.
type Admission struct {
	Reservation
	// Estimate is the job's estimated cost.
	Estimate Estimate
	// RemainingUSD is the smallest budget left to the job's tenant and
	// project after this reservation; negative when no budget applies.
	RemainingUSD float64
	// Header holds rate-limit headers for the answer.
	Header http.Header
	// Note says when the job was admitted on local counts.
	Note string
}

// Reservation is what an admission holds until the job ends.
type Reservation struct {
	ID       string `json:"id"`
	Tenant   string `json:"tenant"`
	Project  string `json:"project"`
	User     string `json:"user"`
	KeyID    string `json:"key_id,omitempty"`
	Instance string `json:"instance"`
	Backend  string `json:"backend,omitempty"`
	Program  string `json:"program,omitempty"`
	Session  string `json:"session_id,omitempty"`
	// Node is the replica that forwards the job; until JobID is known,
	// the reservation is that replica's record of a submission in
	// flight, which another replica finishes if it stops.
	Node     string    `json:"node,omitempty"`
	JobID    string    `json:"job_id,omitempty"`
	Admitted time.Time `json:"admitted"`
	// EstimateMicros is the estimated cost in micro-USD and Price the
	// backend's USD per quantum-second.
	EstimateMicros int64   `json:"estimate_micros"`
	Price          float64 `json:"price"`
	// Local is true when the job was admitted on this replica's local
	// counts because the shared ones were unreachable.
	Local bool `json:"local,omitempty"`
	// Hold is the id of the held job the reservation waits with, until
	// the job is released upstream (JobID) or its hold ends (released).
	Hold string `json:"hold,omitempty"`
	Held []held `json:"held"`
}

// EstimateSeconds is the quantum seconds of the reservation's estimate,
// what a job whose usage cannot be read is charged.
func (r Reservation) EstimateSeconds() float64 {
	if r.Price <= 0 {
		return 0
	}
	return float64(r.EstimateMicros) / 1e6 / r.Price
}

// held is a counter a reservation moved, and how it is undone.
type held struct {
	store.Counter
	Kind string `json:"kind"`
}

// Kinds of held counters.
const (
	heldConcurrent = "concurrent" // released when the job ends
	heldCount      = "count"      // kept, unless the upstream refuses the job
	heldSpend      = "spend"      // the estimate, replaced by the actual cost
	heldReserved   = "reserved"   // the estimate, released when the job ends
)

// reservationTTL bounds how long an admission waits to be settled.
const reservationTTL = 45 * 24 * time.Hour

// check is one counter of an admission with what its refusal says.
type check struct {
	class   string
	counter store.Counter
	kind    string
	refuse  func(current int64) *denial.Denial
	// reset is when a windowed counter's window ends.
	reset time.Time
	// probe marks a check for room (one more job) that moves nothing:
	// its counter's limit is one below the limit it names.
	probe bool
}

// Admit checks a job against every limit that applies and, when all
// pass, counts it and reserves its estimated cost, in one atomic step.
func (g *Governor) Admit(ctx context.Context, job Job) (*Admission, *denial.Denial) {
	now := g.now()
	user := g.resolve(job.Caller)
	key := Resolve(g.keyLevel(job.Caller))
	for _, e := range []*Effective{&user, &key} {
		if err := checkJob(e, job, g.plan.Load().cfg.UnknownSize); err != nil {
			return nil, err
		}
	}
	est := g.plan.Load().cfg.EstimateJob(job.Sub, job.Backend)
	a := &Admission{Estimate: est, RemainingUSD: -1, Header: http.Header{}, Reservation: Reservation{
		ID: newID(), Tenant: job.Tenant, Project: job.Project, User: job.User, KeyID: job.KeyID, Instance: job.Instance,
		Backend: job.Backend, Program: job.Sub.ProgramID, Session: job.Sub.SessionID, Node: job.Node,
		Admitted: now.UTC(), Price: est.PricePerSecond,
	}}
	var checks []check
	for _, s := range g.subjects(job.Caller, &user, &key) {
		if !job.RateCounted {
			checks = append(checks, g.rateChecks(s, now)...)
		}
		checks = append(checks, g.jobChecks(s, job.Priority, now)...)
	}
	budgets := g.budgetsOf(job.Tenant, job.Project)
	if len(budgets) > 0 && est.PricePerSecond > 0 {
		if !est.Known {
			return nil, denial.New("job_size_unknown", fmt.Sprintf(
				"the gateway cannot read this job's circuits to estimate its cost on %s (USD %.2f per quantum-second) against %s; "+
					"set max_execution_time so that its charge is bounded (rule: a job under a budget needs a known size)",
				backendName(job.Backend), est.PricePerSecond, budgets[0].label()))
		}
		a.EstimateMicros = micros(est.USD)
		month := windowAt("month", now)
		for _, b := range budgets {
			checks = append(checks, g.budgetChecks(b, a.EstimateMicros, est, month, now)...)
		}
	}
	if err := g.localTier(checks, now); err != nil {
		return nil, err
	}
	for _, c := range checks {
		a.Held = append(a.Held, held{Counter: c.counter, Kind: c.kind})
	}
	v, local, err := g.admit(ctx, job.Tenant, a, checks)
	if err != nil {
		return nil, err
	}
	a.Local = local
	if local {
		a.Note = "the shared quota counters were unreachable: admitted on this replica's local counts (fail_mode open)"
	}
	if !v.Admitted {
		c := checks[v.Refused]
		if v.FirstOver {
			g.alert(job.Tenant, c.counter.Key, v.Current, true)
		}
		return nil, refusal(c, v.Current, now)
	}
	for _, i := range v.Alerts {
		g.alert(job.Tenant, checks[i].counter.Key, v.Values[i], false)
	}
	a.RemainingUSD = remaining(checks, v.Values)
	setRateHeaders(a.Header, checks, v.Values, now)
	return a, nil
}

// admit runs the atomic step on the shared counters, or, when they are
// unreachable and every class involved fails open, on the local ones.
func (g *Governor) admit(ctx context.Context, scope string, a *Admission, checks []check) (store.Verdict, bool, *denial.Denial) {
	cs := make([]store.Counter, len(checks))
	for i, c := range checks {
		cs[i] = c.counter
	}
	record := func(local bool) store.Admission {
		a.Local = local
		b, _ := json.Marshal(a.Reservation)
		return store.Admission{ID: a.ID, Record: b, TTL: reservationTTL}
	}
	var v store.Verdict
	err := g.call(ctx, func(ctx context.Context, c Counters) error {
		var err error
		v, err = c.Admit(ctx, scope, record(false), cs)
		return err
	})
	if err == nil {
		return v, false, nil
	}
	if !errors.Is(err, errUnavailable) {
		return v, false, denial.New("quota_unavailable", "admission was interrupted: "+err.Error())
	}
	for _, c := range checks {
		if g.plan.Load().cfg.failMode(c.class) == FailClosed {
			e := denial.New("quota_unavailable", fmt.Sprintf(
				"the gateway cannot verify the %s limits that apply to this request right now (their counters are unreachable), "+
					"so it forwards nothing; retry shortly (rule: fail_mode %s closed)", c.class, c.class))
			e.RetryAfter = 5
			return v, false, e
		}
	}
	v, _ = g.local.Admit(ctx, scope, record(true), cs)
	return v, true, nil
}

// newID returns a random reservation id.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func backendName(b string) string {
	if b == "" {
		return "the instance's default backend"
	}
	return "backend " + quoteName(b)
}
