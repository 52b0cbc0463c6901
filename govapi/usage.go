package govapi

import (
	"fmt"
	"net/http"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/rbac"
)

// usage answers GET /governance/v1/usage: this month's budgets of the
// caller's tenant that the caller may view (the tenant's with
// budget:view across it, a project's with budget:view over the project),
// with what is spent and reserved.
func (q govCall) usage() *denial.Denial {
	if !q.access.Holds(rbac.BudgetView) {
		return denial.New("permission_denied",
			fmt.Sprintf("user %s lacks budget:view in tenant %s (roles team_lead, billing, admin)", q.p.UserID, q.p.Tenant))
	}
	all, err := q.g.Quota.Budgets(q.r.Context(), q.p.Tenant)
	if err != nil {
		q.g.Logger.Error("reading budgets", "error", err)
		return denial.New("quota_unavailable", "the gateway cannot read the budgets right now; retry shortly")
	}
	tenantWide := q.access.Tenant().Scope(rbac.BudgetView) == rbac.Tenant
	out := []quota.BudgetView{}
	for _, b := range all {
		if (b.Scope == quota.ScopeTenant && tenantWide) || (b.Scope == quota.ScopeProject && q.access.InProject(rbac.BudgetView, b.Name)) {
			out = append(out, b)
		}
	}
	runtimeapi.WriteJSON(q.w, http.StatusOK, map[string]any{"tenant_id": q.p.Tenant, "budgets": out})
	return nil
}
