// Package quota admits jobs against limits, quotas and budgets.
//
// Limits are set at five levels: tenant, project, role, user and API
// key. The first four resolve by precedence (the most specific wins; a
// level raises a less specific one only when its limits say raise) and
// count the caller's own jobs; an API key's limits apply on top, counted
// per key. Budgets are monthly USD amounts of tenants and projects;
// each job's cost is estimated before it is forwarded and reserved
// against them, and replaced by its actual usage when it ends.
//
// Admission is one atomic step over shared counters: every counter a
// request touches is checked and moved together in one Redis script or
// one bbolt transaction, and a refused request moves none. When the
// shared counters cannot be reached, each limit class fails closed (503)
// or open (admitted on this replica's local counts), as configured.
package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qgov/qgov/store"
)

// Counters are the shared admission counters (store.Bolt or store.Redis).
type Counters interface {
	Admit(ctx context.Context, scope string, a store.Admission, cs []store.Counter) (store.Verdict, error)
	Settle(ctx context.Context, scope, id string, cs []store.Counter) (bool, []int, error)
	Rewrite(ctx context.Context, scope, id string, record []byte, also ...store.Write) (bool, error)
	Open(ctx context.Context, scope string) ([]store.Entry, error)
	Values(ctx context.Context, scope string, keys []string) ([]int64, error)
}

// Options tune a Governor.
type Options struct {
	// Now is the clock of windows and budget periods. Default time.Now.
	Now func() time.Time
	// Timeout bounds each call to the shared counters. Default 500ms.
	Timeout time.Duration
	// Retry is how long the shared counters are left alone after a
	// failure before they are tried again. Default 1s.
	Retry time.Duration
	// OnAlert receives budget alerts: each threshold crossing once.
	OnAlert func(Alert)
	Logger  *slog.Logger
}

// Governor admits jobs and requests against the configured limits.
type Governor struct {
	plan   atomic.Pointer[plan]
	shared Counters
	local  *store.Memory
	opts   Options

	// downUntil is when the shared counters are tried again after a
	// failure (Unix nanoseconds of the wall clock).
	downUntil atomic.Int64

	mu       sync.Mutex
	limiters map[string]*limiter
}

// plan is a validated configuration, indexed.
type plan struct {
	cfg     Config
	rules   map[string]*Rule   // scope/tenant/name
	budgets map[string]*Budget // scope/tenant/name
	// rates is whether any rule limits requests per minute
	rates bool
}

// newPlan validates cfg and indexes it.
func newPlan(cfg Config) (*plan, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &plan{cfg: cfg, rules: map[string]*Rule{}, budgets: map[string]*Budget{}}
	for i := range cfg.Limits {
		r := &cfg.Limits[i]
		p.rules[r.Scope+"/"+r.Tenant+"/"+r.Name] = r
		if _, ok := r.Limits.Get(RequestsPerMinute); ok {
			p.rates = true
		}
	}
	for i := range cfg.Budgets {
		b := &cfg.Budgets[i]
		p.budgets[b.Scope+"/"+b.Tenant+"/"+b.Name] = b
	}
	return p, nil
}

// New validates cfg and returns a Governor counting in shared.
func New(cfg Config, shared Counters, opts Options) (*Governor, error) {
	p, err := newPlan(cfg)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 500 * time.Millisecond
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Governor{shared: shared, local: store.NewMemory(opts.Now), opts: opts, limiters: map[string]*limiter{}}
	g.plan.Store(p)
	return g, nil
}

// Reconfigure validates cfg and puts it in force for the admissions that
// follow, keeping the counters: a limit changed through the governance
// API applies to the counts already taken.
func (g *Governor) Reconfigure(cfg Config) error {
	p, err := newPlan(cfg)
	if err != nil {
		return err
	}
	g.plan.Store(p)
	return nil
}

// Check validates cfg without putting it in force.
func Check(cfg Config) error {
	_, err := newPlan(cfg)
	return err
}

// now is the governor's clock.
func (g *Governor) now() time.Time { return g.opts.Now() }

// level returns the limits configured for one scope, or an empty level.
func (g *Governor) level(scope, tenant, name string) Level {
	lv := Level{Scope: scope, Name: name}
	if r := g.plan.Load().rules[scope+"/"+tenant+"/"+name]; r != nil {
		lv.Limits = r.Limits
	}
	return lv
}

// errUnavailable marks the shared counters as unreachable.
var errUnavailable = errors.New("the shared quota counters are unreachable")

// call runs fn against the shared counters with the timeout, unless they
// failed within the retry interval.
func (g *Governor) call(ctx context.Context, fn func(context.Context, Counters) error) error {
	if time.Now().UnixNano() < g.downUntil.Load() {
		return errUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
	defer cancel()
	if err := fn(ctx, g.shared); err != nil {
		if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
			return err // the caller went away; the store is not to blame
		}
		g.downUntil.Store(time.Now().Add(g.opts.Retry).UnixNano())
		g.opts.Logger.Warn("quota counters unreachable", "error", err, "retry_in", g.opts.Retry)
		return fmt.Errorf("%w: %v", errUnavailable, err)
	}
	return nil
}
