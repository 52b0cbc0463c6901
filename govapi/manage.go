package govapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/governance"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/rbac"
)

// serveAdmin serves keys and sessions of the governance API: the
// self-service endpoints, where administrators may also use API keys and
// act for other users.
func (a *API) serveAdmin(w http.ResponseWriter, r *http.Request, d gateway.Decision, rest string) gateway.Decision {
	g := a.g
	ev, err := g.Auth.ServeAdmin(w, r, "/auth/"+rest, g.ClientIP(r))
	d.Action, d.Outcome = runtimeapi.Action(ev.Action), "allowed"
	d.Absorb(ev)
	if err != nil {
		return gateway.Deny(w, d, err)
	}
	return d
}

// export answers the live objects of the tenant as a governance file
// (YAML), which governance_file loads and qgov gov apply reads.
func (q govCall) export() *denial.Denial {
	if q.a.Catalog == nil {
		return denial.New("governance_not_configured", "this gateway keeps no governance objects")
	}
	tenant, perr := q.tenant()
	if perr != nil {
		return perr
	}
	if perr := q.mayAll("export"); perr != nil {
		return perr
	}
	out, err := governance.Render(q.a.Catalog.Live(tenant))
	if err != nil {
		return denial.New("export_failed", err.Error())
	}
	q.w.Header().Set("Content-Type", "application/yaml")
	q.w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-governance.yaml"`, tenant))
	_, _ = q.w.Write(out)
	return nil
}

// mayAll requires every kind's capability (an administrator's).
func (q govCall) mayAll(what string) *denial.Denial {
	for _, k := range governance.Kinds {
		if perr := q.may(kindCapability[k.Name()], what+" the governance objects"); perr != nil {
			return perr
		}
	}
	return nil
}

// apply makes the tenant's live objects what a governance file says, in
// one revision: ?dry_run=true only answers the differences; ?prune=true
// also deletes live objects the file does not hold. Objects the
// configuration declares must be in the file as declared, or not at all.
func (q govCall) apply(d *gateway.Decision) *denial.Denial {
	if q.a.Catalog == nil {
		return denial.New("governance_not_configured", "this gateway keeps no governance objects")
	}
	tenant, perr := q.tenant()
	if perr != nil {
		return perr
	}
	if perr := q.mayAll("apply"); perr != nil {
		return perr
	}
	v := q.r.URL.Query()
	dryRun, err1 := parseFlag(v.Get("dry_run"))
	prune, err2 := parseFlag(v.Get("prune"))
	if err := errors.Join(err1, err2); err != nil {
		return denial.Newf("invalid_query", "%v", err)
	}
	body, perr := readObject(q.r)
	if perr != nil {
		return perr
	}
	file, err := governance.ParseFile("the request body", body)
	if err != nil {
		return denial.Newf("invalid_file", "%v", err)
	}
	ops, perr := q.applyOps(file, tenant, prune)
	if perr != nil {
		return perr
	}
	rev, diffs, err := q.a.Catalog.Change(q.r.Context(), governance.Change{By: q.p.UserID, Ops: ops, DryRun: dryRun, Authorize: q.authorizeChange(ops)})
	if err != nil {
		return changeError(err)
	}
	if diffs == nil {
		diffs = []governance.Diff{}
	}
	d.SetChange(nil, map[string]any{"dry_run": dryRun, "changes": len(diffs)})
	runtimeapi.WriteJSON(q.w, http.StatusOK, map[string]any{"tenant_id": tenant, "dry_run": dryRun, "revision": rev, "changes": diffs})
	return nil
}

// applyOps turns a file into puts (and, with prune, deletes) for the
// tenant's objects.
func (q govCall) applyOps(file governance.Config, tenant string, prune bool) ([]governance.Op, *denial.Denial) {
	var ops []governance.Op
	held := map[string]bool{}
	for _, k := range governance.Kinds {
		for _, it := range governance.Items(k, &file) {
			if !k.Global() && it.Tenant != tenant {
				return nil, denial.Newf("invalid_file", "%s: %s %q is of tenant %q; apply it with tenant_id=%s", it.Source, k.Name(), it.Name, it.Tenant, it.Tenant)
			}
			spec, err := governance.Spec(it)
			if err != nil {
				return nil, denial.Newf("invalid_file", "%s: %v", it.Source, err)
			}
			ops = append(ops, governance.Op{Verb: governance.Put, Kind: k, Tenant: it.Tenant, Name: it.Name, Spec: spec, Owner: tenant})
			held[k.Name()+"/"+it.Name] = true
		}
	}
	if !prune {
		return ops, nil
	}
	for _, k := range governance.Kinds {
		scope := tenant
		if k.Global() {
			scope = ""
		}
		for _, e := range q.a.Catalog.Entries(k, scope) {
			if e.ManagedBy == "api" && !held[k.Name()+"/"+e.Name] && (!k.Global() || e.Owner == tenant) {
				ops = append(ops, governance.Op{Verb: governance.Delete, Kind: k, Tenant: e.Tenant, Name: e.Name})
			}
		}
	}
	return ops, nil
}

func parseFlag(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", s)
	}
	return b, nil
}

// userRoles answers IBM's enterprise-governance get_user_roles: a user's roles in the
// tenant, where, why and until when. The caller's own roles need nothing;
// another user's need user:view.
func (q govCall) userRoles(user string) *denial.Denial {
	tenant, perr := q.tenant()
	if perr != nil {
		return perr
	}
	if user != q.p.UserID || tenant != q.p.Tenant {
		if !q.access.Holds(rbac.UserView) && !q.access.Tenant().Has(rbac.PlatformManage) {
			return denial.New("permission_denied",
				fmt.Sprintf("user %s lacks user:view (roles team_lead, admin) to read the roles of %s", q.p.UserID, user))
		}
	}
	grants := q.g.Directory.Load().Access(org.Member{Tenant: tenant, User: user}, q.g.Now()).Grants()
	runtimeapi.WriteJSON(q.w, http.StatusOK, map[string]any{"user_id": user, "tenant_id": tenant, "roles": grants})
	return nil
}
