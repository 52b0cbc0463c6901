package caddymodule

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/qgov/qgov/approval"
	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/ibm/iam"
	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/store"
)

// decisions counts the gateway's decisions. Like Caddy's own HTTP
// metrics it is one per process, registered in each config's registry,
// so its counts survive reloads. Every label is bounded: outcomes and
// codes are the gateway's own, actions are IBM's vocabulary.
var decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "qgov", Name: "decisions_total",
	Help: "Requests the gateway decided, by outcome (success, denied, held, modified, failure), error code and IBM action.",
}, []string{"outcome", "code", "action"})

// steps times the pipeline's steps. Its one label is bounded by
// gateway.Steps.
var steps = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Namespace: "qgov", Name: "step_duration_seconds",
	Help:    "How long a step of a request took, by step: " + stepNames() + ".",
	Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
}, []string{"step"})

func stepNames() string {
	names := make([]string, len(gateway.Steps))
	for i, s := range gateway.Steps {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// stepTimer is the gateway's Timer over steps.
type stepTimer struct{}

// Observe implements gateway.Timer.
func (stepTimer) Observe(step gateway.Step, took time.Duration) {
	steps.WithLabelValues(string(step)).Observe(took.Seconds())
}

// countDecision counts one decision.
func countDecision(d *gateway.Decision) {
	decisions.WithLabelValues(d.Result(), d.Code, string(d.Action)).Inc()
}

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 2 * time.Second

// Descriptions of the metrics read from the shared state at each scrape.
// Budgets and pending approvals are the whole deployment's, so every
// replica reports the same values: aggregate them with max, not sum.
var (
	budgetLimitDesc = prometheus.NewDesc("qgov_budget_limit_usd",
		"A budget's monthly limit in USD.", []string{"tenant", "scope", "name"}, nil)
	budgetSpentDesc = prometheus.NewDesc("qgov_budget_spent_usd",
		"What the month's ended jobs cost against a budget, in USD.", []string{"tenant", "scope", "name"}, nil)
	budgetReservedDesc = prometheus.NewDesc("qgov_budget_reserved_usd",
		"The estimates of the month's running jobs reserved against a budget, in USD.", []string{"tenant", "scope", "name"}, nil)
	pendingDesc = prometheus.NewDesc("qgov_approvals_pending",
		"Jobs held for approval not yet settled, by tenant: awaiting a decision, or decided with their release (or end) unfinished.", []string{"tenant"}, nil)
	tokenDesc = prometheus.NewDesc("qgov_upstream_token_refreshes_total",
		"Upstream IAM token exchanges by instance and result (ok, failed); instances sharing an API key share its exchanges.",
		[]string{"instance", "result"}, nil)
	revisionDesc = prometheus.NewDesc("qgov_governance_revision",
		"The revision of the governance objects this replica has in force.", nil, nil)
	identityDesc = prometheus.NewDesc("qgov_identity_verification_failures_total",
		"Tokens of an identity provider this replica could not verify, by provider and result: unreachable (its discovery or keys could not be fetched) or refused (the token did not verify).",
		[]string{"provider", "result"}, nil)
)

// pending counts held jobs by tenant.
type pending interface {
	Pending(ctx context.Context) (map[string]int, error)
}

// stateCollector reads the app's state at each scrape.
type stateCollector struct {
	app       *App
	approvals pending
	providers *identity.Providers
}

// Describe implements prometheus.Collector.
func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{budgetLimitDesc, budgetSpentDesc, budgetReservedDesc, pendingDesc, tokenDesc, revisionDesc, identityDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A store that cannot be read
// leaves its metrics out of the scrape and is logged; the rest are kept.
func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.app
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	ch <- prometheus.MustNewConstMetric(revisionDesc, prometheus.GaugeValue, float64(a.catalog.Revision()))
	if budgets, err := a.governor.Budgets(ctx, ""); err != nil {
		a.logger.Warn("metrics: reading the budgets", "error", err)
	} else {
		for _, b := range budgets {
			for desc, v := range map[*prometheus.Desc]float64{budgetLimitDesc: b.LimitUSD, budgetSpentDesc: b.SpentUSD, budgetReservedDesc: b.ReservedUSD} {
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, b.Tenant, b.Scope, b.Name)
			}
		}
	}
	if open, err := c.approvals.Pending(ctx); err != nil {
		a.logger.Warn("metrics: counting held jobs", "error", err)
	} else {
		tenants := slices.Concat(a.dir.Load().Tenants(), slices.Collect(maps.Keys(open)))
		slices.Sort(tenants)
		for _, tenant := range slices.Compact(tenants) {
			ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(open[tenant]), tenant)
		}
	}
	for _, f := range c.providers.Failures() {
		ch <- prometheus.MustNewConstMetric(identityDesc, prometheus.CounterValue, float64(f.Unreachable), f.Provider, "unreachable")
		ch <- prometheus.MustNewConstMetric(identityDesc, prometheus.CounterValue, float64(f.Refused), f.Provider, "refused")
	}
	if creds := a.held.creds.Load(); creds != nil {
		for _, alias := range slices.Sorted(maps.Keys(*creds)) {
			ts, ok := (*creds)[alias].(*iam.TokenSource)
			if !ok {
				continue
			}
			done, failed := ts.Exchanges()
			ch <- prometheus.MustNewConstMetric(tokenDesc, prometheus.CounterValue, float64(done), alias, "ok")
			ch <- prometheus.MustNewConstMetric(tokenDesc, prometheus.CounterValue, float64(failed), alias, "failed")
		}
	}
}

// registerMetrics exposes the gateway's decisions and the duration of
// its steps, notification deliveries, the audit trail's
// queue, budgets, pending approvals, upstream token refreshes and the
// governance revision through Caddy's metrics (the admin endpoint's
// /metrics, or the metrics handler).
func (a *App) registerMetrics(ctx caddy.Context, trail *audit.Log, book *approval.Book, providers *identity.Providers) {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return
	}
	st, sent := trail.Stats(), a.notifier.Stats()
	for _, c := range []prometheus.Collector{
		decisions,
		steps,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "qgov", Subsystem: "notifications", Name: "delivered_total",
			Help: "Notifications a channel took, since this configuration loaded."}, func() float64 { return float64(sent.Delivered.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "qgov", Subsystem: "notifications", Name: "retries_total",
			Help: "Notification sends tried again after a failure, since this configuration loaded."}, func() float64 { return float64(sent.Retried.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "qgov", Subsystem: "notifications", Name: "failed_total",
			Help: "Notifications given up after the last try (each audited), since this configuration loaded."}, func() float64 { return float64(sent.Failed.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "qgov", Subsystem: "reconciler", Name: "leader",
			Help: "1 while this replica holds the reconciler's lease: one replica at a time."}, func() float64 {
			if a.leader.Load() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "qgov", Subsystem: "notifications", Name: "pending",
			Help: "Notifications in the outbox, every replica's, not yet delivered or given up, at the last read."}, func() float64 { return float64(sent.Pending.Load()) }),
		stateCollector{app: a, approvals: book, providers: providers},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "qgov", Subsystem: "audit", Name: "queue_depth",
			Help: "Audit records reserved, queued or being written."}, func() float64 { return float64(trail.Depth()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "qgov", Subsystem: "audit", Name: "records_total",
			Help: "Audit records every sink has."}, func() float64 { return float64(st.Written.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "qgov", Subsystem: "audit", Name: "delayed_total",
			Help: "Requests that waited for room in a full audit queue."}, func() float64 { return float64(st.Delayed.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "qgov", Subsystem: "audit", Name: "refused_total",
			Help: "Requests refused because the audit queue stayed full."}, func() float64 { return float64(st.Refused.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "qgov", Subsystem: "audit", Name: "sink_errors_total",
			Help: "Failed audit sink writes (retried)."}, func() float64 { return float64(st.SinkErrors.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "qgov", Subsystem: "store", Name: "errors_total",
			Help: "Redis calls of this replica that failed (refused, unanswered or unreachable; 0 with the embedded store), since the store opened."},
			func() float64 { return float64(storeErrors(a.st)) }),
	} {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			ctx.Logger().Warn("registering a qgov metric", zap.Error(err))
		}
	}
}

// storeErrors are the failed calls of a store that counts them (Redis).
func storeErrors(st store.Store) int64 {
	if c, ok := st.(interface{ Errors() int64 }); ok {
		return c.Errors()
	}
	return 0
}
