package quota

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/qgov/qgov/denial"
)

// limiter is a replica's token bucket for one subject's requests per
// minute: it refuses a burst before any round trip to the shared
// counters, and it is the only rate count while they are unreachable.
type limiter struct {
	*rate.Limiter
	perMinute int
}

// maxLimiters bounds the buckets kept; past it they start afresh.
const maxLimiters = 100_000

// localTier applies the replica's token buckets to an admission's rate
// checks.
func (g *Governor) localTier(checks []check, now time.Time) *denial.Denial {
	for _, c := range checks {
		if c.class != ClassRate {
			continue
		}
		name, _, _ := strings.Cut(c.counter.Key, ":"+windowAt("minute", now).id)
		lim := g.bucket(name, int(c.counter.Limit))
		r := lim.ReserveN(now, 1)
		if !r.OK() {
			return refusal(c, c.counter.Limit, now)
		}
		if delay := r.DelayFrom(now); delay > 0 {
			r.CancelAt(now)
			e := refusal(c, c.counter.Limit, now)
			e.RetryAfter = int(math.Ceil(delay.Seconds()))
			e.Message += fmt.Sprintf(" (this replica's bucket refills in %ds)", e.RetryAfter)
			return e
		}
	}
	return nil
}

func (g *Governor) bucket(name string, perMinute int) *limiter {
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.limiters[name]
	if b == nil || b.perMinute != perMinute {
		if len(g.limiters) >= maxLimiters {
			g.limiters = map[string]*limiter{}
		}
		b = &limiter{Limiter: rate.NewLimiter(rate.Limit(float64(perMinute)/60), perMinute), perMinute: perMinute}
		g.limiters[name] = b
	}
	return b
}

// CheckRate counts a request other than a job submission against the
// caller's requests per minute (a submission counts in Precheck or Admit).
func (g *Governor) CheckRate(ctx context.Context, c Caller) (http.Header, *denial.Denial) {
	if !g.plan.Load().rates && c.KeyRate == 0 && !slices.ContainsFunc(c.Roles, func(r RoleLimits) bool {
		_, ok := r.Limits.Get(RequestsPerMinute)
		return ok
	}) {
		return nil, nil // no rate limit anywhere: nothing to count
	}
	return g.count(ctx, c, false, false)
}

// Precheck is the limits step of a job submission before its body is
// read: in one atomic step it counts the request against the caller's
// requests per minute and refuses it when the caller already has as many
// jobs running, this hour or today as their limits allow, counting no
// job; Admit counts the job once it is read (with RateCounted). So a
// caller over their limits makes the gateway read no body.
func (g *Governor) Precheck(ctx context.Context, c Caller, priority bool) (http.Header, *denial.Denial) {
	return g.count(ctx, c, true, priority)
}

// count counts the caller's request rate and, with jobs, probes their
// room for one more job.
func (g *Governor) count(ctx context.Context, c Caller, jobs, priority bool) (http.Header, *denial.Denial) {
	now := g.now()
	user := g.resolve(c)
	key := Resolve(g.keyLevel(c))
	var checks []check
	for _, s := range g.subjects(c, &user, &key) {
		checks = append(checks, g.rateChecks(s, now)...)
		if !jobs {
			continue
		}
		for _, jc := range g.jobChecks(s, priority, now) {
			jc.counter.Amount, jc.counter.Limit, jc.probe = 0, jc.counter.Limit-1, true
			jc.counter.Alert, jc.counter.OverKey = 0, ""
			checks = append(checks, jc)
		}
	}
	if len(checks) == 0 {
		return nil, nil
	}
	if !slices.ContainsFunc(checks, func(c check) bool { return !c.probe }) {
		return nil, g.probe(ctx, c.Tenant, checks, now)
	}
	if err := g.localTier(checks, now); err != nil {
		return nil, err
	}
	a := &Admission{}
	v, _, err := g.admit(ctx, c.Tenant, a, checks)
	if err != nil {
		return nil, err
	}
	if !v.Admitted {
		return nil, refusal(checks[v.Refused], v.Current, now)
	}
	h := http.Header{}
	setRateHeaders(h, checks, v.Values, now)
	return h, nil
}

// probe refuses a submission whose caller has no room for one more job,
// reading the counters (no transaction, no write). It moves nothing, and
// when the counters cannot be read it lets the submission go on to its
// admission, which applies the fail modes.
func (g *Governor) probe(ctx context.Context, scope string, checks []check, now time.Time) *denial.Denial {
	keys := make([]string, len(checks))
	for i, c := range checks {
		keys[i] = c.counter.Key
	}
	var values []int64
	if err := g.call(ctx, func(ctx context.Context, c Counters) error {
		var err error
		values, err = c.Values(ctx, scope, keys)
		return err
	}); err != nil {
		return nil
	}
	for i, c := range checks {
		if values[i] > c.counter.Limit {
			return refusal(c, values[i], now)
		}
	}
	return nil
}
