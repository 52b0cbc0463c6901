package quota

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/store"
)

// resolve applies the tenant, project, role and user levels.
func (g *Governor) resolve(c Caller) Effective {
	return Resolve(g.level(ScopeTenant, c.Tenant, c.Tenant), g.level(ScopeProject, c.Tenant, c.Project),
		combineRoles(c.Roles), g.level(ScopeUser, c.Tenant, c.User))
}

// keyLevel is an API key's own limits: its rule, and its rate limit.
func (g *Governor) keyLevel(c Caller) Level {
	if c.KeyID == "" {
		return Level{Scope: ScopeKey}
	}
	lv := g.level(ScopeKey, c.Tenant, c.KeyID)
	if v, ok := lv.Limits.Get(RequestsPerMinute); c.KeyRate > 0 && (!ok || c.KeyRate < v) {
		lv.Limits.Set(RequestsPerMinute, c.KeyRate)
	}
	return lv
}

// subject is whose jobs or requests a set of limits counts: the user's
// (the resolved levels) or the API key's.
type subject struct {
	who string // for messages: `user "fatima"`
	id  string // in counter keys
	eff *Effective
}

func (g *Governor) subjects(c Caller, user, key *Effective) []subject {
	out := []subject{{who: "user " + quoteName(c.User), id: "u:" + c.User, eff: user}}
	if c.KeyID != "" {
		out = append(out, subject{who: "API key " + quoteName(c.KeyID), id: "k:" + c.KeyID, eff: key})
	}
	return out
}

// rule names where a limit comes from, for denials.
func rule(f Field, b Bound) string {
	return fmt.Sprintf("%s of %s", f, b.From)
}

// sizeLimits are the limits on a job's size, with how each is measured.
var sizeLimits = []struct {
	field Field
	what  string
	value func(*runtimeapi.Submission) (int, bool)
}{
	{MaxShotsPerJob, "shots (bindings × shots over its pubs)", func(s *runtimeapi.Submission) (int, bool) {
		return s.Shots, sizeKnown(s)
	}},
	{MaxBatchSize, "pubs", func(s *runtimeapi.Submission) (int, bool) { return len(s.Pubs), s.Pubs != nil }},
	{MaxQubitsPerCircuit, "qubits in one circuit", func(s *runtimeapi.Submission) (int, bool) {
		n := 0
		for _, p := range s.Pubs {
			n = max(n, len(p.Facts.ActiveQubits))
		}
		return n, sizeKnown(s)
	}},
	{MaxCircuitDepth, "circuit depth", func(s *runtimeapi.Submission) (int, bool) {
		n := 0
		for _, p := range s.Pubs {
			n = max(n, p.Facts.Depth)
		}
		return n, depthKnown(s)
	}},
}

// checkJob applies the size and backend limits, which count nothing: a
// job over them is refused whatever the counters say. A job whose size
// cannot be read is refused under a size limit that needs it, unless
// the rule for unknown sizes is bounded and it sets max_execution_time.
func checkJob(e *Effective, job Job, unknownSize string) *denial.Denial {
	for _, l := range sizeLimits {
		b := e.Bound(l.field)
		if !b.Set {
			continue
		}
		v, known := l.value(job.Sub)
		if !known && l.field == MaxCircuitDepth && sizeKnown(job.Sub) {
			return denial.New("job_size_unknown", fmt.Sprintf(
				"the depth of this job's circuits cannot be counted: the gates they define expand to more operations than the gateway "+
					"counts, and %s is %d (rule: %s); submit the circuits with their gates expanded or transpiled",
				l.field, b.Value, rule(l.field, b)))
		}
		switch {
		case known:
		case unknownSize == UnknownBounded && job.Sub.Cost != nil:
			continue // its charge is bounded by max_execution_time
		case unknownSize == UnknownBounded:
			return denial.New("job_size_unknown", fmt.Sprintf(
				"the gateway cannot read this job's %s (program %s), and %s is %d (rule: %s); under unknown_size bounded "+
					"such a job needs max_execution_time, which bounds its charge", l.what, job.Sub.ProgramID, l.field, b.Value, rule(l.field, b)))
		default:
			return denial.New("job_size_unknown", fmt.Sprintf(
				"the gateway cannot read this job's %s (program %s: its circuits do not read, or the program is not one the gateway sizes), "+
					"and %s is %d (rule: %s, and unknown_size refuse)", l.what, job.Sub.ProgramID, l.field, b.Value, rule(l.field, b)))
		}
		if v > b.Value {
			return denial.New("limit_exceeded", fmt.Sprintf(
				"the job has %d %s, over %s %d (rule: %s); this limit does not reset: make the job smaller",
				v, l.what, l.field, b.Value, rule(l.field, b)))
		}
	}
	if lv, ok := e.blocked[job.Backend]; ok && job.Backend != "" {
		return denial.New("backend_blocked", fmt.Sprintf(
			"backend %q is blocked (rule: blocked_backends of %s)", job.Backend, lv))
	}
	if e.allowedFrom != nil && !backendListed(e.allowed, job.Backend) {
		return denial.New("backend_not_allowed", fmt.Sprintf(
			"%s is not among the allowed backends [%s] (rule: allowed_backends of %s)",
			backendName(job.Backend), strings.Join(e.allowed, ", "), e.allowedFrom))
	}
	return nil
}

// countLimit is a counted limit and the window it counts in ("" for
// concurrent jobs).
type countLimit struct {
	field  Field
	window string
	what   string
}

var jobLimits = []countLimit{
	{MaxConcurrentJobs, "", "jobs running or queued"},
	{MaxJobsPerHour, "hour", "jobs submitted this hour"},
	{MaxJobsPerDay, "day", "jobs submitted today (UTC)"},
}

var priorityLimit = countLimit{MaxPriorityJobsPerDay, "day", "priority jobs submitted today (UTC)"}

var rateLimit = countLimit{RequestsPerMinute, "minute", "requests this minute"}

// counted builds the check of one counted limit for a subject.
func (g *Governor) counted(s subject, l countLimit, class, kind string, now time.Time) (check, bool) {
	b := s.eff.Bound(l.field)
	if !b.Set {
		return check{}, false
	}
	c := store.Counter{Key: l.field.String() + ":" + s.id, Limit: int64(b.Value), Amount: 1}
	w := window{}
	if l.window != "" {
		w = windowAt(l.window, now)
		c.Key += ":" + w.id
		c.TTL = w.ttl(now)
	}
	code := "quota_exceeded"
	if class == ClassRate {
		code = "rate_limited"
	}
	return check{class: class, counter: c, kind: kind, reset: w.end, refuse: func(cur int64) *denial.Denial {
		reset, retry := "it frees up when one of them ends", 30
		if l.window != "" {
			retry = int(math.Ceil(w.end.Sub(now).Seconds()))
			reset = fmt.Sprintf("it resets at %s, in %ds", w.end.Format(time.RFC3339), retry)
		}
		e := denial.New(code, fmt.Sprintf("%s has %d %s, and %s is %d (rule: %s); %s",
			s.who, cur, l.what, l.field, b.Value, rule(l.field, b), reset))
		e.RetryAfter = retry
		return e
	}}, true
}

// rateChecks counts the request against the subject's requests per
// minute.
func (g *Governor) rateChecks(s subject, now time.Time) []check {
	if c, ok := g.counted(s, rateLimit, ClassRate, "", now); ok { // a request stays counted: nothing to undo
		return []check{c}
	}
	return nil
}

// jobChecks counts a job against the subject's job limits.
func (g *Governor) jobChecks(s subject, priority bool, now time.Time) []check {
	var out []check
	limits := jobLimits
	if priority {
		limits = append(slices.Clip(limits), priorityLimit)
	}
	for _, l := range limits {
		kind := heldCount
		if l.window == "" {
			kind = heldConcurrent
		}
		if c, ok := g.counted(s, l, ClassJobs, kind, now); ok {
			out = append(out, c)
		}
	}
	return out
}

// budgetsOf returns the budgets that apply to a project's jobs: the
// tenant's, then the project's.
func (g *Governor) budgetsOf(tenant, project string) []*Budget {
	var out []*Budget
	budgets := g.plan.Load().budgets
	for _, k := range []string{ScopeTenant + "/" + tenant + "/" + tenant, ScopeProject + "/" + tenant + "/" + project} {
		if b := budgets[k]; b != nil {
			out = append(out, b)
		}
	}
	return out
}

func (b *Budget) label() string { return "the budget of " + b.Scope + " " + quoteName(b.Name) }

// budgetKey is the counter of a budget's spending and reservations in a
// month; budgetKey+":reserved" is the reserved part.
func (b *Budget) key(month window) string {
	return "budget:" + b.Scope + ":" + b.Name + ":" + month.id
}

// budgetChecks reserve an estimate against a budget: the spend counter,
// limited, and its reserved part, counted.
func (g *Governor) budgetChecks(b *Budget, amount int64, est Estimate, month window, now time.Time) []check {
	limit := micros(b.MonthlyLimitUSD)
	key := b.key(month)
	spend := check{class: ClassBudget, kind: heldSpend, counter: store.Counter{
		Key: key, Limit: limit, Amount: amount, TTL: month.ttl(now) + 31*24*time.Hour,
		Alert: int64(math.Ceil(float64(limit) * float64(b.AlertThresholdPercent) / 100)), AlertKey: key + ":alert",
		OverKey: key + ":over",
	}, refuse: func(cur int64) *denial.Denial {
		return denial.New("budget_exceeded", fmt.Sprintf(
			"the job's estimated cost USD %.2f (%.1f quantum-seconds at USD %.2f) would take %s over its limit: "+
				"USD %.2f of %.2f is spent or reserved in %s (rule: monthly_limit_usd of %s); it resets at %s",
			est.USD, est.Seconds, est.PricePerSecond, b.label(), dollars(cur), b.MonthlyLimitUSD, month.id, b.label(),
			month.end.Format(time.RFC3339)))
	}}
	reserved := check{class: ClassBudget, kind: heldReserved, counter: store.Counter{
		Key: key + ":reserved", Limit: -1, Amount: amount, TTL: spend.counter.TTL,
	}}
	return []check{spend, reserved}
}

// remaining is the smallest budget left after an admission, or -1.
func remaining(checks []check, values []int64) float64 {
	left := -1.0
	for i, c := range checks {
		if c.kind == heldSpend {
			if l := dollars(c.counter.Limit - values[i]); left < 0 || l < left {
				left = l
			}
		}
	}
	return left
}

// setRateHeaders sets the rate-limit headers of the counted limit with
// the least room left after an admission.
func setRateHeaders(h http.Header, checks []check, values []int64, now time.Time) {
	best := -1
	for i, c := range checks {
		if c.class == ClassBudget || c.counter.Limit < 0 {
			continue
		}
		if best < 0 || c.counter.Limit-values[i] < checks[best].counter.Limit-values[best] {
			best = i
		}
	}
	if best >= 0 {
		rateHeaders(h, checks[best], values[best], now)
	}
}

// rateHeaders sets RateLimit-Limit, RateLimit-Remaining and, for a
// windowed limit, RateLimit-Reset (seconds).
func rateHeaders(h http.Header, c check, value int64, now time.Time) {
	h.Set("RateLimit-Limit", strconv.FormatInt(c.counter.Limit, 10))
	h.Set("RateLimit-Remaining", strconv.FormatInt(max(c.counter.Limit-value, 0), 10))
	if !c.reset.IsZero() {
		h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil(c.reset.Sub(now).Seconds()))))
	}
}

// refusal is a counter's refusal, with the rate-limit headers of a
// counted limit.
func refusal(c check, current int64, now time.Time) *denial.Denial {
	e := c.refuse(current)
	if c.class != ClassBudget {
		if c.probe {
			c.counter.Limit++
		}
		e.Header = http.Header{}
		rateHeaders(e.Header, c, c.counter.Limit, now)
	}
	return e
}
