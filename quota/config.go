package quota

import (
	"cmp"
	"errors"
	"fmt"
	"math"
)

// Limit classes, each with its own fail mode.
const (
	// ClassRate is requests per minute.
	ClassRate = "rate"
	// ClassJobs is the job counts: concurrent, per hour, per day and
	// priority per day.
	ClassJobs = "jobs"
	// ClassBudget is the monthly budgets.
	ClassBudget = "budget"
)

// Fail modes: what admission does when its counters cannot be reached.
const (
	// FailClosed answers 503 with Retry-After and forwards nothing.
	FailClosed = "closed"
	// FailOpen admits on this replica's local counts and says so in the
	// audit record.
	FailOpen = "open"
)

// DefaultPricePerSecond is the price of a quantum-second on hardware
// when no price is configured: IBM's pay-as-you-go rate, USD 1.60.
const DefaultPricePerSecond = 1.60

// DefaultAlertPercent is a budget's alert threshold when none is set.
const DefaultAlertPercent = 80

// Config is the quota configuration: limits per scope, monthly budgets,
// the cost model's prices and the fail modes.
type Config struct {
	// Limits set limits for a tenant, a project, a user or an API key.
	// Roles carry their own limits in their definitions.
	Limits []Rule `json:"limits,omitempty"`
	// Budgets are monthly USD budgets of tenants and projects.
	Budgets []Budget `json:"budgets,omitempty"`
	// Prices are USD per quantum-second by backend name. A backend not
	// listed costs DefaultPrice, and a simulator nothing.
	Prices map[string]float64 `json:"prices,omitempty"`
	// DefaultPrice is the USD price of a quantum-second on a backend
	// without its own price. Default 1.60.
	DefaultPrice *float64 `json:"default_price,omitempty"`
	// FailModes map a limit class ("rate", "jobs", "budget") to "closed"
	// or "open". Defaults: rate open, jobs and budget closed.
	FailModes map[string]string `json:"fail_modes,omitempty"`
	// UnknownSize is the rule for a job whose size the gateway cannot
	// read (a program it does not size, such as calibrate or one it has
	// not met): "refuse" (the default) refuses it under any size limit,
	// and on a priced backend under a budget unless it sets
	// max_execution_time; "bounded" admits it under size limits too when
	// it sets max_execution_time, which bounds its charge, and refuses it
	// when it does not.
	UnknownSize string `json:"unknown_size,omitempty"`
}

// Rules for jobs of unknown size.
const (
	UnknownRefuse  = "refuse"
	UnknownBounded = "bounded"
)

// Rule sets limits at one scope: Scope is "tenant", "project", "user" or
// "key"; Name the project, user or key id (for a tenant, the tenant).
type Rule struct {
	Scope  string `json:"scope"`
	Tenant string `json:"tenant,omitempty"`
	Name   string `json:"name"`
	Limits
	// Source is where the rule was declared, named in errors.
	Source string `json:"source,omitempty"`
}

// Budget is a monthly budget of a tenant or a project (Scope "tenant" or
// "project"; Name the tenant or project).
type Budget struct {
	Scope  string `json:"scope"`
	Tenant string `json:"tenant,omitempty"`
	Name   string `json:"name"`
	// MonthlyLimitUSD is what jobs may cost per UTC calendar month.
	MonthlyLimitUSD float64 `json:"monthly_limit_usd"`
	// AlertThresholdPercent fires an alert, once per month, when spending
	// and reservations reach this share of the limit. Default 80.
	AlertThresholdPercent int `json:"alert_threshold_percent,omitempty"`
	// Source is where the budget was declared, named in errors.
	Source string `json:"source,omitempty"`
}

// where names a declaration in errors.
func where(kind, scope, name, source string) string {
	s := fmt.Sprintf("%s for %s %q", kind, scope, name)
	if source != "" {
		s += " (" + source + ")"
	}
	return s
}

// validate checks the configuration and fills defaults; tenant names
// default to "default".
func (c *Config) validate() error {
	var errs []error
	seen := map[string]bool{}
	for i := range c.Limits {
		r := &c.Limits[i]
		w := where("limits", r.Scope, r.Name, r.Source)
		if err := ownTenant(r.Scope, &r.Tenant, &r.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", w, err))
		}
		switch r.Scope {
		case ScopeTenant, ScopeProject, ScopeUser, ScopeKey:
		default:
			errs = append(errs, fmt.Errorf("%s: scope must be tenant, project, user or key", w))
		}
		if r.Name == "" {
			errs = append(errs, fmt.Errorf("%s: a name is required", w))
		}
		if r.Scope == ScopeKey && r.Raise {
			errs = append(errs, fmt.Errorf("%s: an API key's limits may only lower its owner's (raise is not allowed)", w))
		}
		for _, bad := range r.Limits.Validate() {
			errs = append(errs, fmt.Errorf("%s: %s", w, bad))
		}
		id := r.Scope + "/" + r.Tenant + "/" + r.Name
		if seen[id] {
			errs = append(errs, fmt.Errorf("%s: declared twice", w))
		}
		seen[id] = true
	}
	for i := range c.Budgets {
		b := &c.Budgets[i]
		w := where("budget", b.Scope, b.Name, b.Source)
		if err := ownTenant(b.Scope, &b.Tenant, &b.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", w, err))
		}
		if b.Scope != ScopeTenant && b.Scope != ScopeProject {
			errs = append(errs, fmt.Errorf("%s: scope must be tenant or project", w))
		}
		if !(b.MonthlyLimitUSD >= 0) || math.IsInf(b.MonthlyLimitUSD, 0) {
			errs = append(errs, fmt.Errorf("%s: monthly_limit_usd must be a non-negative number", w))
		}
		if b.AlertThresholdPercent == 0 {
			b.AlertThresholdPercent = DefaultAlertPercent
		}
		if b.AlertThresholdPercent < 1 || b.AlertThresholdPercent > 100 {
			errs = append(errs, fmt.Errorf("%s: alert_threshold_percent must be 1 to 100", w))
		}
		id := "budget/" + b.Scope + "/" + b.Tenant + "/" + b.Name
		if seen[id] {
			errs = append(errs, fmt.Errorf("%s: declared twice", w))
		}
		seen[id] = true
	}
	for name, p := range c.Prices {
		if !(p >= 0) || math.IsInf(p, 0) {
			errs = append(errs, fmt.Errorf("price of backend %q must be a non-negative number of USD per second", name))
		}
	}
	if c.DefaultPrice != nil && (!(*c.DefaultPrice >= 0) || math.IsInf(*c.DefaultPrice, 0)) {
		errs = append(errs, errors.New("default_price must be a non-negative number of USD per second"))
	}
	if c.UnknownSize != "" && c.UnknownSize != UnknownRefuse && c.UnknownSize != UnknownBounded {
		errs = append(errs, fmt.Errorf("unknown_size %q is neither refuse nor bounded", c.UnknownSize))
	}
	for class, mode := range c.FailModes {
		if class != ClassRate && class != ClassJobs && class != ClassBudget {
			errs = append(errs, fmt.Errorf("fail_mode: unknown limit class %q (use rate, jobs or budget)", class))
		}
		if mode != FailOpen && mode != FailClosed {
			errs = append(errs, fmt.Errorf("fail_mode %s: %q is neither open nor closed", class, mode))
		}
	}
	return errors.Join(errs...)
}

// DefaultTenant is the tenant of declarations that name none.
const DefaultTenant = "default"

// failMode returns a class's fail mode.
func (c *Config) failMode(class string) string {
	if m := c.FailModes[class]; m != "" {
		return m
	}
	if class == ClassRate {
		return FailOpen
	}
	return FailClosed
}

// ownTenant fills a limit's or budget's tenant (default "default"); a
// tenant's own limits and budget are named after it and belong to it, so
// one tenant's object never names another tenant.
func ownTenant(scope string, tenant, name *string) error {
	if scope != ScopeTenant {
		if *tenant == "" {
			*tenant = DefaultTenant
		}
		return nil
	}
	switch {
	case *name == "":
		*name = cmp.Or(*tenant, DefaultTenant)
	case *tenant != "" && *tenant != *name:
		return fmt.Errorf("a tenant's limits and budget are its own: %q belongs to tenant %q, not %q", *name, *tenant, *name)
	}
	*tenant = *name
	return nil
}
