package console

import (
	"net/url"

	"github.com/qgov/qgov/govapi"
	"github.com/qgov/qgov/report"
)

// overview greets the caller with their tenant, projects and roles, and
// what waits for them.
func (c *Console) overview(v *visit, _ string) {
	var list struct {
		Approvals []govapi.ApprovalView `json:"approvals"`
	}
	data := map[string]any{}
	if err := v.get("/governance/v1/approvals", &list); err == nil {
		n := 0
		for _, h := range list.Approvals {
			if h.MayDecide {
				n++
			}
		}
		data["ToDecide"], data["Held"] = n, len(list.Approvals)
	}
	c.render(v, "overview", data)
}

// access shows the access review: who holds which role where and why,
// assignments about to expire, keys and their use.
func (c *Console) access(v *visit, _ string) {
	period := v.r.URL.Query().Get("period")
	if period == "" {
		period = c.Now().UTC().Format("2006-01")
	}
	var rep report.Report
	data := map[string]any{"Period": period}
	if err := v.get("/governance/v1/reports/access_review?period="+url.QueryEscape(period), &rep); err != nil {
		data["Error"] = err
	} else {
		data["Report"] = rep
	}
	c.render(v, "access", data)
}
