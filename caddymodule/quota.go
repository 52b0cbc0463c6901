package caddymodule

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/governance"
	"github.com/qgov/qgov/notify"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/policy"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/store"
)

// Defaults of the quotas block.
const (
	defaultReconcileInterval = 15 * time.Second
	defaultStoreTimeout      = 500 * time.Millisecond
)

// QuotaConfig configures limits, budgets and the cost model. Counters
// live in the app's store: exact across replicas on Redis, on one node
// with the embedded store.
type QuotaConfig struct {
	quota.Config
	// ReconcileInterval is how often the reconciler (on one replica at a
	// time) follows admitted jobs upstream to settle their reservations.
	// Default 15s.
	ReconcileInterval caddy.Duration `json:"reconcile_interval,omitempty"`
	// StoreTimeout bounds each call to the store: an admission's to the
	// counters (past it the fail modes apply) and every other read or
	// write; a store that hangs costs a request about this, then 503
	// with Retry-After. On Redis it is also the client's dial, read and
	// write timeout. Default 500ms.
	StoreTimeout caddy.Duration `json:"store_timeout,omitempty"`
}

// quotaConfig is the quota configuration of a whole governance
// configuration: the quotas block's prices and fail modes with its limits
// and budgets. The tenants' max_shots settings act as tenant limits where
// no limits set none.
func (a *App) quotaConfig(c governance.Config, dir *org.Directory) (quota.Config, error) {
	cfg := quota.Config{}
	if a.Quotas != nil {
		cfg = a.Quotas.Config
	}
	cfg.Limits, cfg.Budgets = slices.Clone(c.Limits), c.Budgets
	for _, t := range c.Tenants {
		if t.MaxShots > 0 && !hasTenantLimit(cfg.Limits, org.Tenant(t.Name), quota.MaxShotsPerJob) {
			r := quota.Rule{Scope: quota.ScopeTenant, Name: org.Tenant(t.Name), Source: t.Source + " (max_shots)"}
			r.Set(quota.MaxShotsPerJob, t.MaxShots)
			cfg.Limits = append(cfg.Limits, r)
		}
	}
	var errs []error
	for _, r := range cfg.Limits {
		if r.Scope == quota.ScopeProject && dir.Project(org.Tenant(r.Tenant), r.Name) == nil {
			errs = append(errs, fmt.Errorf("qgov quotas: limits for project %q: no such project in tenant %q", r.Name, org.Tenant(r.Tenant)))
		}
	}
	for _, b := range cfg.Budgets {
		if b.Scope == quota.ScopeProject && dir.Project(org.Tenant(b.Tenant), b.Name) == nil {
			errs = append(errs, fmt.Errorf("qgov quotas: budget for project %q: no such project in tenant %q", b.Name, org.Tenant(b.Tenant)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	if err := quota.Check(cfg); err != nil {
		return cfg, fmt.Errorf("qgov quotas: %w", err)
	}
	return cfg, nil
}

// newGovernor builds the quota governor over the store's counters.
func (a *App) newGovernor(st store.Store, cfg quota.Config) (*quota.Governor, error) {
	counters, ok := st.(quota.Counters)
	if !ok {
		return nil, fmt.Errorf("qgov quotas: the store %T keeps no counters", st)
	}
	g, err := quota.New(cfg, counters, quota.Options{Timeout: a.storeTimeout(), Logger: a.logger,
		OnAlert: func(al quota.Alert) {
			if a.gateway != nil {
				a.gateway.BudgetAlert(al)
			}
		}})
	if err != nil {
		return nil, fmt.Errorf("qgov quotas: %w", err)
	}
	return g, nil
}

func hasTenantLimit(rules []quota.Rule, tenant string, f quota.Field) bool {
	for _, r := range rules {
		if _, set := r.Get(f); set && r.Scope == quota.ScopeTenant && org.Tenant(r.Name) == tenant {
			return true
		}
	}
	return false
}

// resolveChannels returns the notification channels with their URLs'
// placeholders resolved, checked as the notifier will take them.
func (a *App) resolveChannels(repl *caddy.Replacer) ([]notify.Channel, error) {
	chans := append([]notify.Channel(nil), a.NotificationChannels...)
	for i := range chans {
		v, err := repl.ReplaceOrErr(chans[i].URL, true, true)
		if err != nil || v == "" {
			return nil, fmt.Errorf("qgov notification channel %q: the URL or its placeholder is unset or empty", chans[i].Name)
		}
		chans[i].URL = v
		if chans[i].Secret == "" {
			continue
		}
		if !strings.HasPrefix(chans[i].Secret, "{") { // never the secret itself in the config and its autosave
			return nil, fmt.Errorf("qgov notification channel %q: give the secret as a placeholder, such as {env.WEBHOOK_SECRET}", chans[i].Name)
		}
		if v, err = repl.ReplaceOrErr(chans[i].Secret, true, true); err != nil || v == "" {
			return nil, fmt.Errorf("qgov notification channel %q: the secret's placeholder is unset or empty", chans[i].Name)
		}
		chans[i].Secret = v
	}
	if err := notify.Check(chans); err != nil {
		return nil, fmt.Errorf("qgov: %w", err)
	}
	return chans, nil
}

// startNotifier starts delivering to the notification channels from
// the store's outbox, which every replica shares.
func (a *App) startNotifier() (*notify.Notifier, error) {
	n, err := notify.New(a.channels, a.st, notify.Options{Logger: a.logger, Holder: nodeName(), Nodes: a.nodes(), OnFailure: func(ch string, m notify.Message, err error) error {
		return a.gateway.NotifyFailed(ch, m, err) // the notifier starts once the gateway is built
	}})
	if err != nil {
		return nil, fmt.Errorf("qgov: %w", err)
	}
	return n, nil
}

// checkChannels refuses policies and workflows that notify a channel
// no notification_channel declares.
func (a *App) checkChannels(c governance.Config) error {
	var errs []error
	unknown := func(what, name, ch string) {
		if !slices.ContainsFunc(a.channels, func(c notify.Channel) bool { return c.Name == ch }) {
			errs = append(errs, fmt.Errorf("qgov %s %q: notification channel %q is not declared (notification_channel %s <url>)", what, name, ch, ch))
		}
	}
	for _, p := range c.Policies {
		for _, t := range p.Notify {
			if t.Channel != "" {
				unknown("policy", p.Name, t.Channel)
			}
		}
	}
	for _, w := range c.Workflows {
		for _, n := range w.Notify {
			if n != policy.NotifySubmitter && n != policy.NotifyApprovers {
				unknown("workflow", w.Name, n)
			}
		}
	}
	return errors.Join(errs...)
}

// storeTimeout bounds every call to the store: an admission's to the
// counters (past it the fail modes apply), and every read or write of
// ownership, holds and leases.
func (a *App) storeTimeout() time.Duration {
	if a.Quotas != nil && a.Quotas.StoreTimeout > 0 {
		return time.Duration(a.Quotas.StoreTimeout)
	}
	return defaultStoreTimeout
}

// reconcileInterval is the time between the reconciler's passes.
func (a *App) reconcileInterval() time.Duration {
	if a.Quotas != nil && a.Quotas.ReconcileInterval > 0 {
		return time.Duration(a.Quotas.ReconcileInterval)
	}
	return defaultReconcileInterval
}

// nodes tracks the running replicas: each beats every reconcile
// interval, and one silent for three is taken to have stopped.
func (a *App) nodes() store.Nodes {
	return store.Nodes{Store: a.st, TTL: 3 * a.reconcileInterval()}
}

// startReconciler runs the job reconciler until ctx ends; replicas
// sharing the store elect one to run it.
func (a *App) startReconciler(ctx context.Context) {
	rc := &gateway.Reconciler{Gateway: a.gateway, Store: a.st, Nodes: a.nodes(), Node: a.cfg.Node, Interval: a.reconcileInterval(), Leader: a.leader}
	a.reconciling = make(chan struct{})
	go func() {
		defer close(a.reconciling)
		rc.Run(ctx)
	}()
}

// nodeName names this process among the replicas: host, process id and
// a random part. It is the same across configuration reloads, so work a
// previous configuration's server left in flight stays this node's.
var nodeName = sync.OnceValue(func() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
})
