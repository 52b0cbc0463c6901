package govapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/governance"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/rbac"
)

// authorizeChange is the one authorization of every change of governance
// objects, whether it comes through an object route, apply, the command
// line or the console: the catalog writes nothing it refuses. It sees
// each object as the change leaves it. The caller must
//   - reach the object's tenant (their own; any with platform:manage);
//   - hold the kind's capability across that tenant, and platform:manage
//     to create or delete a tenant;
//   - own a global object (a custom role) they change or delete;
//   - grant no more than they hold (the privilege ceiling): a role's
//     permissions, an assignment's or an access group's roles where it
//     grants them, are within what the caller holds there; holders of
//     platform:manage may grant anything;
//   - name secrets, outbound hosts and notification channels only as the
//     configuration declares them for the tenant.
func (q govCall) authorizeChange(ops []governance.Op) func([]governance.Diff, governance.Config) error {
	platform := q.access.Tenant().Has(rbac.PlatformManage)
	return func(diffs []governance.Diff, next governance.Config) error {
		for _, op := range ops {
			if err := q.mayChange(op.Kind, op.Verb, op.Tenant, op.Name, platform); err != nil {
				return err
			}
		}
		var dir *org.Directory
		for _, d := range diffs {
			k, _ := governance.KindOf(d.Kind)
			if err := q.mayChange(k, d.Op, d.Tenant, d.Name, platform); err != nil {
				return err
			}
			if k.Global() && d.Op != governance.Create && d.Owner != "" && d.Owner != q.p.Tenant && !platform {
				return denial.New("not_owner",
					fmt.Sprintf("%s %q belongs to tenant %s; only its administrators (or platform:manage) change it", k.Name(), d.Name, d.Owner))
			}
			if d.After == nil {
				continue // taking away grants nothing
			}
			if d.Kind == "instances" {
				if err := q.a.checkInstance(d.Tenant, d.Name, d.After); err != nil {
					return err
				}
			}
			if err := q.a.checkChannels(d.Kind, d.Tenant, d.Name, d.After); err != nil {
				return err
			}
			if platform {
				continue
			}
			if d.Kind == "roles" {
				if err := q.mayChangeRole(d); err != nil {
					return err
				}
			}
			if d.Kind != "roles" && d.Kind != "assignments" && d.Kind != "access_groups" && d.Kind != "projects" {
				continue
			}
			if dir == nil {
				var err error
				if dir, err = org.NewDirectory(next.Config); err != nil {
					return nil // an invalid change is refused by its validation, which names what is wrong
				}
			}
			if err := q.ceiling(dir, d); err != nil {
				return denial.New("privilege_ceiling", fmt.Sprintf(
					"user %s may not make this change of %s %q: %v (rule: nobody grants more than they hold, or for longer)", q.p.UserID, k.Name(), d.Name, err))
			}
			if d.Kind == "roles" {
				if other := dir.RoleUsedElsewhere(d.Name, q.p.Tenant); other != "" && d.Op != governance.Create {
					return denial.New("role_in_use", fmt.Sprintf(
						"role %q is given in tenant %s too; a change would change what its members there hold, so only platform:manage changes it", d.Name, other))
				}
			}
		}
		return nil
	}
}

// mayChangeRole requires budget:manage to set a role's limits: a role's
// limits (with raise) lift the tenant's limits for its holders.
func (q govCall) mayChangeRole(d governance.Diff) *denial.Denial {
	var before, after struct {
		Limits json.RawMessage `json:"limits"`
	}
	_ = json.Unmarshal(d.Before, &before)
	_ = json.Unmarshal(d.After, &after)
	if len(after.Limits) == 0 || bytes.Equal(before.Limits, after.Limits) {
		return nil
	}
	return q.may(rbac.BudgetManage, "setting a role's limits")
}

// mayChange checks the caller's reach on a tenant and their capability
// for a kind there.
func (q govCall) mayChange(k governance.Kind, verb, tenant, name string, platform bool) *denial.Denial {
	if !k.Global() && tenant != q.p.Tenant && !platform {
		return denial.New("tenant_not_accessible",
			fmt.Sprintf("user %s may manage only their own tenant %s, not %s (platform:manage, role operator, reaches every tenant)", q.p.UserID, q.p.Tenant, tenant))
	}
	c := kindCapability[k.Name()]
	if k.Name() == "tenants" && (verb == governance.Create || verb == governance.Delete) {
		c = rbac.PlatformManage
	}
	return q.may(c, verb+" "+k.Name())
}

// ceiling checks that an object grants no more than the caller holds,
// and for no longer: against what the caller will still hold when the
// grant ends (never, for a grant without an end).
func (q govCall) ceiling(dir *org.Directory, d governance.Diff) error {
	forever := q.g.Now().AddDate(100, 0, 0)
	holder := func(until *time.Time) org.Access {
		at := forever
		if until != nil {
			at = *until
		}
		return q.g.Directory.Load().Access(q.p.Member(), at)
	}
	switch d.Kind {
	case "roles":
		return dir.RoleBeyond(d.Name, holder(nil))
	case "assignments":
		var as org.Assignment
		if err := json.Unmarshal(d.After, &as); err != nil {
			return err
		}
		return dir.AssignmentBeyond(as, holder(as.ExpiresAt))
	case "access_groups":
		var g org.AccessGroup
		if err := json.Unmarshal(d.After, &g); err != nil {
			return err
		}
		return dir.GroupBeyond(g, holder(nil))
	case "projects":
		return dir.ProjectBeyond(q.g.Directory.Load(), d.Tenant, d.Name, holder(nil))
	}
	return nil
}
