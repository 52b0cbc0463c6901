package quota

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// BudgetView is one budget as its users see it.
type BudgetView struct {
	// Tenant is set in the views of every tenant's budgets (Budgets).
	Tenant       string    `json:"tenant,omitempty"`
	Scope        string    `json:"scope"`
	Name         string    `json:"name"`
	Period       string    `json:"period"`
	LimitUSD     float64   `json:"limit_usd"`
	SpentUSD     float64   `json:"spent_usd"`
	ReservedUSD  float64   `json:"reserved_usd"`
	RemainingUSD float64   `json:"remaining_usd"`
	AlertPercent int       `json:"alert_threshold_percent"`
	Resets       time.Time `json:"resets_at"`
}

// LimitView is one counted limit with the caller's count.
type LimitView struct {
	Limit string `json:"limit"`
	// Counts says whose requests or jobs are counted: the user's or
	// the API key's.
	Counts string `json:"counts"`
	Value  int    `json:"value"`
	Used   int64  `json:"used"`
	// Rule names the level that set the limit.
	Rule   string     `json:"rule"`
	Resets *time.Time `json:"resets_at,omitempty"`
}

// Usage is a caller's view of the budgets and counted limits that apply
// to their jobs in a project.
type Usage struct {
	Budgets []BudgetView `json:"budgets"`
	Limits  []LimitView  `json:"limits"`
}

// Usage reads, in one call, the budgets of the caller's tenant and
// project and the caller's counts against their limits.
func (g *Governor) Usage(ctx context.Context, c Caller) (Usage, error) {
	now := g.now()
	month := windowAt("month", now)
	u := Usage{Budgets: []BudgetView{}, Limits: []LimitView{}}
	var keys []string
	budgets := g.budgetsOf(c.Tenant, c.Project)
	for _, b := range budgets {
		keys = append(keys, b.key(month), b.key(month)+":reserved")
	}
	user := g.resolve(c)
	key := Resolve(g.keyLevel(c))
	var views []LimitView
	for _, s := range g.subjects(c, &user, &key) {
		for _, l := range slices.Concat(jobLimits, []countLimit{priorityLimit, rateLimit}) {
			if chk, ok := g.counted(s, l, ClassJobs, "", now); ok {
				b := s.eff.Bound(l.field)
				v := LimitView{Limit: l.field.String(), Counts: s.who, Value: b.Value, Rule: b.From.String()}
				if !chk.reset.IsZero() {
					v.Resets = &chk.reset
				}
				views = append(views, v)
				keys = append(keys, chk.counter.Key)
			}
		}
	}
	if len(keys) == 0 {
		return u, nil
	}
	var vals []int64
	err := g.call(ctx, func(ctx context.Context, cs Counters) error {
		var err error
		vals, err = cs.Values(ctx, c.Tenant, keys)
		return err
	})
	if err != nil {
		return u, err
	}
	for i, b := range budgets {
		u.Budgets = append(u.Budgets, b.view(month, vals[2*i], vals[2*i+1]))
	}
	for i, v := range views {
		v.Used = vals[2*len(budgets)+i]
		u.Limits = append(u.Limits, v)
	}
	return u, nil
}

// view is a budget with what its month has spent and reserved (in
// micro-dollars; used includes reserved).
func (b *Budget) view(month window, used, reserved int64) BudgetView {
	return BudgetView{Scope: b.Scope, Name: b.Name, Period: month.id, LimitUSD: b.MonthlyLimitUSD,
		SpentUSD: dollars(used - reserved), ReservedUSD: dollars(reserved), RemainingUSD: max(b.MonthlyLimitUSD-dollars(used), 0),
		AlertPercent: b.AlertThresholdPercent, Resets: month.end}
}

// Budgets reads the budgets in force of one tenant, or of every tenant
// when tenant is empty, with this month's spending: one call to the
// shared counters per tenant, ordered by tenant, then each tenant's own
// budget before its projects' by name.
func (g *Governor) Budgets(ctx context.Context, tenant string) ([]BudgetView, error) {
	month := windowAt("month", g.now())
	byTenant := map[string][]*Budget{}
	for _, b := range g.plan.Load().budgets {
		if tenant == "" || b.Tenant == tenant {
			byTenant[b.Tenant] = append(byTenant[b.Tenant], b)
		}
	}
	out := []BudgetView{}
	for _, tenant := range slices.Sorted(maps.Keys(byTenant)) {
		budgets := byTenant[tenant]
		slices.SortFunc(budgets, func(a, b *Budget) int {
			return cmp.Or(cmp.Compare(b.Scope, a.Scope), cmp.Compare(a.Name, b.Name)) // "tenant" before "project"
		})
		keys := make([]string, 0, 2*len(budgets))
		for _, b := range budgets {
			keys = append(keys, b.key(month), b.key(month)+":reserved")
		}
		var vals []int64
		err := g.call(ctx, func(ctx context.Context, cs Counters) error {
			var err error
			vals, err = cs.Values(ctx, tenant, keys)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("reading the budgets of tenant %q: %w", tenant, err)
		}
		for i, b := range budgets {
			v := b.view(month, vals[2*i], vals[2*i+1])
			v.Tenant = tenant
			out = append(out, v)
		}
	}
	return out, nil
}
