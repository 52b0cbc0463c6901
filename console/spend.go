package console

import (
	"fmt"
	"net/url"

	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/report"
)

// budgetPanel is one budget with its burn-down.
type budgetPanel struct {
	quota.BudgetView
	Chart svgChart
}

// spend shows the month's budgets with their burn-down, spend by
// project (estimated and actual), budget alerts and job counts over
// time, as far as the caller's roles reach.
func (c *Console) spend(v *visit, _ string) {
	now := c.Now().UTC()
	period := v.r.URL.Query().Get("period")
	if period == "" {
		period = now.Format("2006-01")
	}
	data := map[string]any{"Period": period}
	var usage struct {
		Budgets []quota.BudgetView `json:"budgets"`
	}
	if err := v.get("/governance/v1/usage", &usage); err != nil {
		data["BudgetsError"] = err
	}
	var spend, jobs report.Report
	if err := v.get("/governance/v1/reports/budget_usage?period="+url.QueryEscape(period), &spend); err != nil {
		data["SpendError"] = err
	} else {
		data["Spend"] = spend
		if spend.Chart != nil {
			data["SpendChart"] = stacked("spend-chart", spend.Chart)
		}
	}
	if err := v.get("/governance/v1/reports/job_summary?period="+url.QueryEscape(period), &jobs); err != nil {
		data["JobsError"] = err
	} else {
		data["Jobs"] = jobs
		if jobs.Chart != nil {
			data["JobsChart"] = stacked("jobs-chart", jobs.Chart)
		}
	}
	var panels []budgetPanel
	for i, b := range usage.Budgets {
		p := budgetPanel{BudgetView: b}
		if spend.Chart != nil && b.Period == period {
			daily := dailySpend(spend.Chart, b)
			p.Chart = burnDown(fmt.Sprintf("burn-%d", i), b.Scope+" "+b.Name, b.LimitUSD, spend.Chart.Labels, daily, now.Format("2006-01-02"))
		}
		panels = append(panels, p)
	}
	data["Budgets"] = panels
	c.render(v, "spend", data)
}

// dailySpend is what a budget's jobs cost each day: its project's
// series, or every project's for a tenant budget.
func dailySpend(ch *report.Chart, b quota.BudgetView) []float64 {
	out := make([]float64, len(ch.Labels))
	for _, s := range ch.Series {
		if b.Scope == quota.ScopeTenant || s.Name == b.Name {
			for i, v := range s.Values {
				out[i] += v
			}
		}
	}
	return out
}
