package govapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/governance"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/rbac"
)

// Catalog keeps the governance objects, declared and live
// (governance.Manager).
type Catalog interface {
	Entries(k governance.Kind, tenant string) []governance.Entry
	Entry(k governance.Kind, tenant, name string) (governance.Entry, error)
	Change(ctx context.Context, c governance.Change) (int64, []governance.Diff, error)
	Live(tenant string) governance.Config
	Refresh(ctx context.Context) (bool, error)
}

// maxObjectBytes bounds a governance object or governance file.
const maxObjectBytes = 1 << 20

// Page sizes of object lists.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// kindCapability is what changing (and reading) each kind needs across
// the tenant; audit:view also reads every kind.
var kindCapability = map[string]rbac.Capability{
	"tenants": rbac.TenantManage, "instances": rbac.TenantManage, "projects": rbac.TenantManage,
	"access_groups": rbac.TenantManage, "roles": rbac.RoleManage, "assignments": rbac.UserManage,
	"limits": rbac.BudgetManage, "budgets": rbac.BudgetManage, "policies": rbac.PolicyManage, "workflows": rbac.PolicyManage,
}

// tenant returns the tenant a governance request is about: tenant_id,
// else the caller's. Another tenant needs platform:manage.
func (q govCall) tenant() (string, *denial.Denial) {
	t := q.r.URL.Query().Get("tenant_id")
	if t == "" || t == q.p.Tenant {
		return q.p.Tenant, nil
	}
	if !q.access.Tenant().Has(rbac.PlatformManage) {
		return "", denial.New("tenant_not_accessible",
			fmt.Sprintf("user %s may manage only their own tenant %s, not %s (platform:manage, role operator, reaches every tenant)", q.p.UserID, q.p.Tenant, t))
	}
	return t, nil
}

// may requires a capability across the caller's tenant.
func (q govCall) may(c rbac.Capability, what string) *denial.Denial {
	if q.access.Tenant().Has(c) || q.access.Tenant().Has(rbac.PlatformManage) {
		return nil
	}
	return denial.New("permission_denied",
		fmt.Sprintf("user %s lacks %s across tenant %s, which %s needs", q.p.UserID, rbac.CapabilityName(c), q.p.Tenant, what))
}

// objects serves /governance/v1/{kind}[/{name}].
func (q govCall) objects(k governance.Kind, name string, d *gateway.Decision) *denial.Denial {
	if q.a.Catalog == nil {
		return denial.New("governance_not_configured", "this gateway keeps no governance objects")
	}
	tenant, err := q.tenant()
	if err != nil {
		return err
	}
	if k.Name() == "tenants" && name != "" && name != tenant {
		// a tenant is its own scope: another one, like tenant_id, needs platform:manage
		if !q.access.Tenant().Has(rbac.PlatformManage) {
			return denial.New("tenant_not_accessible",
				fmt.Sprintf("user %s may manage only their own tenant %s, not %s (platform:manage, role operator, reaches every tenant)", q.p.UserID, q.p.Tenant, name))
		}
		tenant = name
	}
	scope := tenant
	if k.Global() {
		scope = ""
	}
	d.SetResource(audit.Resource{Type: k.Name(), ID: strings.Trim(scope+"/"+name, "/")})
	// the route table serves GET and POST on /{kind}, and GET, PUT,
	// PATCH and DELETE on /{kind}/{name}
	verb := map[string]string{http.MethodGet: "read", http.MethodPost: governance.Create, http.MethodPut: governance.Put,
		http.MethodPatch: governance.Patch, http.MethodDelete: governance.Delete}[q.r.Method]
	if verb == "read" {
		c := kindCapability[k.Name()]
		if q.access.Tenant().Has(rbac.AuditView) {
			c = rbac.AuditView
		}
		if perr := q.may(c, "reading "+k.Name()); perr != nil {
			return perr
		}
		d.Action = audit.ActionGovernanceRead
		if name == "" {
			return q.list(k, scope)
		}
		return q.get(k, scope, name)
	}
	d.Action = runtimeapi.Action(audit.GovernanceAction(verb))
	op := governance.Op{Verb: verb, Kind: k, Tenant: scope, Name: name, Owner: tenant, IfMatch: strings.Trim(q.r.Header.Get("If-Match"), `"`)}
	if perr := q.precondition(&op); perr != nil {
		return perr
	}
	if verb != governance.Delete {
		body, perr := readObject(q.r)
		if perr != nil {
			return perr
		}
		op.Spec = body
		if perr := nameFromBody(k, &op); perr != nil {
			return perr
		}
		d.SetResource(audit.Resource{Type: k.Name(), ID: strings.Trim(op.Tenant+"/"+op.Name, "/")})
	}
	return q.change(k, []governance.Op{op}, d)
}

// precondition requires If-Match on changes of existing objects; PUT
// without it only creates.
func (q govCall) precondition(op *governance.Op) *denial.Denial {
	if op.IfMatch != "" || op.Verb == governance.Create {
		return nil
	}
	if op.Verb == governance.Put {
		op.Verb = governance.Create
		return nil
	}
	return denial.New("precondition_required",
		fmt.Sprintf("%s %s needs If-Match with the object's ETag from GET (or * for any revision), so that a change made meanwhile is not overwritten", q.r.Method, q.r.URL.Path))
}

// nameFromBody takes a POST's object name from its body.
func nameFromBody(k governance.Kind, op *governance.Op) *denial.Denial {
	if op.Name != "" {
		return nil
	}
	it, err := governance.Decode(k, op.Spec, op.Tenant, "")
	if err != nil {
		return denial.Newf("invalid_object", "%v", err)
	}
	op.Name = it.Name
	if k.Name() == "tenants" {
		op.Tenant = it.Name
	}
	return nil
}

// readObject reads a request body of at most maxObjectBytes.
func readObject(r *http.Request) ([]byte, *denial.Denial) {
	body, d := gateway.ReadBody(r, maxObjectBytes)
	if d != nil {
		return nil, d
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, denial.Newf("empty_body", "the request needs a JSON object")
	}
	return body, nil
}

// change applies ops and answers with the object (or the diffs of several).
func (q govCall) change(k governance.Kind, ops []governance.Op, d *gateway.Decision) *denial.Denial {
	rev, diffs, err := q.a.Catalog.Change(q.r.Context(), governance.Change{By: q.p.UserID, Ops: ops, Authorize: q.authorizeChange(ops)})
	if err != nil {
		return changeError(err)
	}
	if len(diffs) == 1 {
		d.SetChange(diffs[0].Before, diffs[0].After)
	}
	op := ops[0]
	if op.Verb == governance.Delete {
		runtimeapi.WriteJSON(q.w, http.StatusOK, map[string]any{"deleted": op.Name, "kind": k.Name(), "revision": rev})
		return nil
	}
	e, err := q.a.Catalog.Entry(k, op.Tenant, op.Name)
	if err != nil {
		return changeError(err)
	}
	q.w.Header().Set("ETag", e.ETag())
	status := http.StatusOK
	if len(diffs) == 1 && diffs[0].Op == governance.Create {
		status = http.StatusCreated
	}
	runtimeapi.WriteJSON(q.w, status, view(e))
	return nil
}

// changeError maps a catalog error to an answer.
func changeError(err error) *denial.Denial {
	msg := err.Error()
	var denied *denial.Denial
	switch {
	case errors.As(err, &denied):
		return denied
	case errors.Is(err, governance.ErrManaged):
		return denial.New("managed_by_config", msg)
	case errors.Is(err, governance.ErrExists):
		return denial.New("already_exists", msg)
	case errors.Is(err, governance.ErrNotFound):
		return denial.New("not_found", msg)
	case errors.Is(err, governance.ErrStale):
		return denial.New("precondition_failed", msg)
	case errors.Is(err, governance.ErrInvalid):
		return denial.New("invalid_object", msg)
	case errors.Is(err, governance.ErrConflict):
		return &denial.Denial{Code: "concurrent_change", Message: msg, RetryAfter: 1}
	}
	return &denial.Denial{Code: "store_unavailable", RetryAfter: 5,
		Message: "the governance objects cannot be written right now; nothing changed"}
}

// list answers a page of a kind's objects.
func (q govCall) list(k governance.Kind, scope string) *denial.Denial {
	v := q.r.URL.Query()
	size := defaultPageSize
	if s := v.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return denial.Newf("invalid_query", "page_size must be 1 to %d", maxPageSize)
		}
		size = n
	}
	after := ""
	if t := v.Get("page_token"); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil {
			return denial.Newf("invalid_query", "page_token is not one this API returned")
		}
		after = string(b)
	}
	all := q.a.Catalog.Entries(k, scope)
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(all, after, func(e governance.Entry, name string) int { return strings.Compare(e.Name, name) })
		if start < len(all) && all[start].Name == after {
			start++
		}
	}
	page := all[start:min(start+size, len(all))]
	items := make([]entryView, len(page))
	for i, e := range page {
		items[i] = view(e)
	}
	next := ""
	if start+size < len(all) {
		next = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].Name))
	}
	runtimeapi.WriteJSON(q.w, http.StatusOK, map[string]any{"kind": k.Name(), "tenant_id": scope, "count": len(items), "total": len(all),
		"items": items, "next_page_token": next})
	return nil
}

// get answers one object with its ETag.
func (q govCall) get(k governance.Kind, scope, name string) *denial.Denial {
	e, err := q.a.Catalog.Entry(k, scope, name)
	if err != nil {
		return changeError(err)
	}
	q.w.Header().Set("ETag", e.ETag())
	runtimeapi.WriteJSON(q.w, http.StatusOK, view(e))
	return nil
}

// entryView is an object as the API answers it.
type entryView struct {
	governance.Entry
	ETag string `json:"etag"`
}

// placeholder is a runtime placeholder naming where a secret lives.
var placeholder = regexp.MustCompile(`^\{(env|file)\.[A-Za-z0-9_./-]+\}$`)

// view shows an entry. An instance's api_key (configuration only) is
// shown only when it is a placeholder: a key written literally in the
// configuration is never shown.
func view(e governance.Entry) entryView {
	if e.Kind == "instances" {
		var m map[string]any
		if json.Unmarshal(e.Spec, &m) == nil {
			if k, ok := m["api_key"].(string); ok && !placeholder.MatchString(k) {
				m["api_key"] = "(redacted)"
				e.Spec, _ = json.Marshal(m)
			}
		}
	}
	return entryView{Entry: e, ETag: e.ETag()}
}
