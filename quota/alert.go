package quota

import (
	"math"
	"strings"
)

// Alert is a budget crossing its alert threshold, or refusing a job for
// the first time in a month. Each fires once per budget and month, on
// whichever replica saw the crossing.
type Alert struct {
	Tenant string
	// Scope and Name are the budget's: "tenant" or "project", and its
	// name.
	Scope string
	Name  string
	// Period is the month, "2006-01".
	Period string
	// Percent is the share of the limit reached (the threshold, or 100
	// when Exceeded).
	Percent int
	// Exceeded is true when the budget refused a job.
	Exceeded bool
	// UsedUSD is what was spent or reserved, LimitUSD the monthly limit.
	UsedUSD  float64
	LimitUSD float64
}

// alert reports a budget alert of a spend counter (key "budget:<scope>:
// <name>:<month>") at a value.
func (g *Governor) alert(tenant, key string, value int64, exceeded bool) {
	rest, ok := strings.CutPrefix(key, "budget:")
	if !ok || g.opts.OnAlert == nil || len(rest) < len(":2006-01") {
		return
	}
	period := rest[len(rest)-len("2006-01"):]
	scope, name, _ := strings.Cut(rest[:len(rest)-len(":2006-01")], ":")
	b := g.plan.Load().budgets[scope+"/"+tenant+"/"+name]
	if b == nil {
		return
	}
	pct := b.AlertThresholdPercent
	if exceeded {
		pct = 100
	}
	g.opts.OnAlert(Alert{Tenant: tenant, Scope: b.Scope, Name: b.Name, Period: period, Percent: pct, Exceeded: exceeded,
		UsedUSD: math.Round(dollars(value)*100) / 100, LimitUSD: b.MonthlyLimitUSD})
}
