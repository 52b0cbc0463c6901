package org

import (
	"fmt"
	"slices"
	"strings"

	"github.com/qgov/qgov/rbac"
)

// In is what the member holds over one project's objects: the union of
// their tenant-wide roles and their roles in that project.
func (a Access) In(project string) rbac.Set {
	var s rbac.Set
	for _, g := range a.grants {
		if g.tenantWide || (g.project != nil && g.project.Name == project) {
			s.Union(&g.role.Set)
		}
	}
	return s
}

// Covers checks that the member may grant what other holds: every role
// of other across the tenant and in each of its projects is within what
// the member holds there. It names the first thing beyond.
func (a Access) Covers(other Access) error {
	if c, sc, beyond := other.Tenant().Beyond(a.Tenant()); beyond {
		return fmt.Errorf("across the tenant they hold %s", rbac.Describe(c, sc))
	}
	for _, p := range other.Projects() {
		if c, sc, beyond := other.In(p).Beyond(a.In(p)); beyond {
			return fmt.Errorf("in project %s they hold %s", p, rbac.Describe(c, sc))
		}
	}
	return nil
}

// The privilege ceiling: nobody grants more than they hold. d is the
// directory a change would produce, and holder what the person making
// the change holds now; each check names the first permission beyond.

// RoleBeyond checks a role's permissions, inherited ones included,
// against what holder holds across the tenant.
func (d *Directory) RoleBeyond(name string, holder Access) error {
	r := d.roles.Get(name)
	if r == nil {
		return nil // an unknown role fails the change's validation
	}
	if c, sc, beyond := r.Set.Beyond(holder.Tenant()); beyond {
		return fmt.Errorf("role %s holds %s, which is beyond what they hold across the tenant", name, rbac.Describe(c, sc))
	}
	return nil
}

// AssignmentBeyond checks the role an assignment grants against what
// holder holds where it grants it: across the tenant, or in the project
// and the projects it groups.
func (d *Directory) AssignmentBeyond(as Assignment, holder Access) error {
	r := d.roles.Get(as.Role)
	if r == nil {
		return nil
	}
	if as.Project == "" {
		if c, sc, beyond := r.Set.Beyond(holder.Tenant()); beyond {
			return fmt.Errorf("role %s across tenant %s holds %s, which they do not hold across the tenant", as.Role, Tenant(as.Tenant), rbac.Describe(c, sc))
		}
		return nil
	}
	return d.projectsBeyond(Tenant(as.Tenant), []string{as.Project}, []*rbac.Role{r}, holder)
}

// GroupBeyond checks the roles an access group grants, in each of its
// projects, and the instances it grants them on.
func (d *Directory) GroupBeyond(g AccessGroup, holder Access) error {
	tenant := Tenant(g.Tenant)
	roles, _ := d.lookupRoles(g.Roles)
	if err := d.projectsBeyond(tenant, g.Projects, roles, holder); err != nil {
		return err
	}
	own, _ := d.reach(tenant, g.Instances, g.ResourceGroups)
	reached := holder.Instances()
	for _, in := range own {
		if !holder.Tenant().Has(rbac.TenantManage) && !slices.ContainsFunc(reached, func(r *Instance) bool { return r.Alias == in.Alias }) {
			return fmt.Errorf("the group grants its roles on instance %s, which they do not reach", in.Alias)
		}
	}
	return nil
}

func (d *Directory) projectsBeyond(tenant string, projects []string, roles []*rbac.Role, holder Access) error {
	for _, name := range projects {
		p := d.Project(tenant, name)
		if p == nil {
			continue
		}
		for _, sp := range p.span() {
			held := holder.In(sp.Name)
			for _, r := range roles {
				if c, sc, beyond := r.Set.Beyond(held); beyond {
					return fmt.Errorf("role %s in project %s holds %s, which they do not hold there", r.Name, sp.Name, rbac.Describe(c, sc))
				}
			}
		}
	}
	return nil
}

// ProjectBeyond checks a project the change creates or moves: the roles
// that grants now give in it or in the projects it groups (through a new
// parent, say) and did not before must be within what holder holds
// there. before is the directory in force.
func (d *Directory) ProjectBeyond(before *Directory, tenant, name string, holder Access) error {
	p := d.Project(tenant, name)
	if p == nil {
		return nil
	}
	for _, sp := range p.span() {
		had := map[string]bool{}
		for _, r := range before.rolesOn(tenant, sp.Name) {
			had[r.Name] = true
		}
		held := holder.In(sp.Name)
		for _, r := range d.rolesOn(tenant, sp.Name) {
			if had[r.Name] {
				continue
			}
			if c, sc, beyond := r.Set.Beyond(held); beyond {
				return fmt.Errorf("the project would give role %s in project %s, which holds %s, beyond what they hold there", r.Name, sp.Name, rbac.Describe(c, sc))
			}
		}
	}
	return nil
}

// rolesOn lists the roles any grant gives in a project of a tenant.
func (d *Directory) rolesOn(tenant, project string) []*rbac.Role {
	var out []*rbac.Role
	add := func(key string, gs []*grant) {
		if !strings.HasPrefix(key, tenant+"/") {
			return
		}
		for _, g := range gs {
			if g.project != nil && g.project.Name == project && !slices.Contains(out, g.role) {
				out = append(out, g.role)
			}
		}
	}
	for key, gs := range d.static {
		add(key, gs)
	}
	for key, gs := range d.dynamic {
		add(key, gs)
	}
	return out
}

// RoleUsedElsewhere names another tenant than owner whose assignments or
// access groups give a role, or "".
func (d *Directory) RoleUsedElsewhere(role, owner string) string {
	for _, a := range d.assigns {
		if a.Role == role && a.Tenant != owner {
			return a.Tenant
		}
	}
	for _, g := range d.groupList {
		if g.Tenant != owner && slices.Contains(g.Roles, role) {
			return g.Tenant
		}
	}
	return ""
}
