package org

import (
	"slices"
	"strings"
	"time"

	"github.com/qgov/qgov/rbac"
)

// Member is a caller as the organisation sees them.
type Member struct {
	Tenant string
	User   string
	// Groups are the access groups the caller's identity-provider claims
	// made them a member of (dynamic rules).
	Groups []string
	// Only narrows the caller to these projects (an API key's projects);
	// empty does not narrow.
	Only []string
}

// Access is what a member may do, as of one instant: the unexpired
// grants of their access groups and role assignments.
type Access struct {
	grants []*grant
	// narrowed: an API key narrowed the member to some projects; nothing
	// it holds reaches across the tenant.
	narrowed bool
}

// Access computes a member's access at now. It reads only the config
// loaded in memory: no store round trip.
func (d *Directory) Access(m Member, now time.Time) Access {
	static := d.static[m.Tenant+"/"+m.User]
	a := Access{grants: make([]*grant, 0, len(static)+4*len(m.Groups)), narrowed: len(m.Only) > 0}
	add := func(gs []*grant) {
		for _, g := range gs {
			if !g.expires.IsZero() && !now.Before(g.expires) {
				continue
			}
			if a.narrowed {
				if g.project == nil || !slices.Contains(m.Only, g.project.Name) {
					continue
				}
				if g.tenantWide { // held in the key's projects only
					only := *g
					only.tenantWide = false
					g = &only
				}
			}
			a.grants = append(a.grants, g)
		}
	}
	add(static)
	for _, name := range m.Groups {
		add(d.dynamic[m.Tenant+"/"+name])
	}
	return a
}

// Empty reports whether the member holds nothing.
func (a Access) Empty() bool { return len(a.grants) == 0 }

// Projects lists the member's projects, in the order of their grants.
func (a Access) Projects() []string {
	var out []string
	for _, g := range a.grants {
		if g.project != nil && !slices.Contains(out, g.project.Name) {
			out = append(out, g.project.Name)
		}
	}
	return out
}

// Instances lists the instances the member reaches through any project.
func (a Access) Instances() []*Instance {
	var out []*Instance
	for _, g := range a.grants {
		for _, in := range g.reach {
			if !slices.Contains(out, in) {
				out = append(out, in)
			}
		}
	}
	return out
}

// Tenant is what the member holds over the whole tenant: the union of
// their tenant-wide role assignments.
func (a Access) Tenant() rbac.Set {
	var s rbac.Set
	for _, g := range a.grants {
		if g.tenantWide {
			s.Union(&g.role.Set)
		}
	}
	return s
}

// Widest is everything the member holds anywhere: the union of every
// role they hold, in any project or across the tenant.
func (a Access) Widest() rbac.Set {
	var s rbac.Set
	for _, g := range a.grants {
		s.Union(&g.role.Set)
	}
	return s
}

// Holds reports whether the member holds a capability in any project.
func (a Access) Holds(c rbac.Capability) bool {
	for _, g := range a.grants {
		if g.role.Set.Has(c) {
			return true
		}
	}
	return false
}

// InProject reports whether the member may apply a capability to the
// objects of a project: a role held across the tenant, or in that
// project, grants it at project scope or wider.
func (a Access) InProject(c rbac.Capability, project string) bool {
	for _, g := range a.grants {
		switch s := g.role.Set.Scope(c); {
		case s == rbac.Tenant, s == rbac.Project && (g.tenantWide || (g.project != nil && g.project.Name == project)):
			return true
		}
	}
	return false
}

// RolesIn names the roles the member holds in a project, tenant-wide
// ones included, each once.
func (a Access) RolesIn(project string) []string {
	var out []string
	for _, g := range a.grants {
		if (g.tenantWide || (g.project != nil && g.project.Name == project)) && !slices.Contains(out, g.role.Name) {
			out = append(out, g.role.Name)
		}
	}
	return out
}

// Grant is one role the member holds in a project, where it comes from
// and until when.
type Grant struct {
	Project string `json:"project"`
	Role    string `json:"role"`
	// Via names the access group or assignment and where it is declared.
	Via     string    `json:"via"`
	Expires time.Time `json:"expires_at,omitzero"`
}

// Grants lists the member's roles project by project.
func (a Access) Grants() []Grant {
	out := make([]Grant, 0, len(a.grants))
	for _, g := range a.grants {
		if g.project != nil {
			out = append(out, Grant{Project: g.project.Name, Role: g.role.Name, Via: g.label, Expires: g.expires})
		}
	}
	return out
}

// ProjectAccess is what the member may do in one project on one
// instance.
type ProjectAccess struct {
	Project string
	Set     rbac.Set
	// Roles are the roles held in the project, each once.
	Roles []*rbac.Role
}

// Reach is what the member may do on one instance, project by project.
type Reach struct {
	// List holds the member's projects on the instance, in grant order.
	List     []ProjectAccess
	grants   []*grant
	in       *Instance
	narrowed bool
}

// On returns the member's projects on an instance with what each allows;
// the list is empty when no project of theirs may use it.
func (a Access) On(in *Instance) Reach {
	r := Reach{grants: a.grants, in: in, narrowed: a.narrowed}
	for _, g := range a.grants {
		if g.project == nil || !slices.Contains(g.reach, in) {
			continue
		}
		i := slices.IndexFunc(r.List, func(p ProjectAccess) bool { return p.Project == g.project.Name })
		if i < 0 {
			r.List = append(r.List, ProjectAccess{Project: g.project.Name})
			i = len(r.List) - 1
		}
		r.List[i].Set.Union(&g.role.Set)
		if !slices.Contains(r.List[i].Roles, g.role) {
			r.List[i].Roles = append(r.List[i].Roles, g.role)
		}
	}
	return r
}

// Projects lists the reach's projects.
func (r Reach) Projects() []string {
	out := make([]string, len(r.List))
	for i, p := range r.List {
		out[i] = p.Project
	}
	return out
}

// Project returns the access in one project, or nil.
func (r Reach) Project(name string) *ProjectAccess {
	for i := range r.List {
		if r.List[i].Project == name {
			return &r.List[i]
		}
	}
	return nil
}

// Holds reports whether a capability is held in any project.
func (r Reach) Holds(c rbac.Capability) bool {
	for _, p := range r.List {
		if p.Set.Has(c) {
			return true
		}
	}
	return false
}

// Allows reports whether the member may apply a capability to an object
// of the tenant: one in project owned by owner, the member being user.
// Tenant scope reaches every project (of a narrowed key, only its
// projects); project scope the object's project; own scope the member's
// own objects in that project.
func (r Reach) Allows(c rbac.Capability, project, owner, user string) bool {
	for _, p := range r.List {
		switch p.Set.Scope(c) {
		case rbac.Tenant:
			if !r.narrowed || slices.Contains(r.Projects(), project) {
				return true
			}
		case rbac.Project:
			if p.Project == project {
				return true
			}
		case rbac.Own:
			if p.Project == project && owner == user {
				return true
			}
		}
	}
	return false
}

// Explain names the roles the member holds on the instance, in one
// project or in all, and where each comes from, for denials.
func (r Reach) Explain(project string) string {
	var parts []string
	for _, p := range r.List {
		if project != "" && p.Project != project {
			continue
		}
		var labels []string
		for _, g := range r.grants {
			if g.project != nil && g.project.Name == p.Project && slices.Contains(g.reach, r.in) {
				labels = append(labels, g.label)
			}
		}
		parts = append(parts, p.Project+": "+strings.Join(labels, ", "))
	}
	if project != "" && len(parts) == 1 {
		return "roles in project " + parts[0]
	}
	return "roles by project: " + strings.Join(parts, "; ")
}

// Users lists, sorted, the users the configuration names in a tenant:
// members of its access groups and holders of its role assignments.
func (d *Directory) Users(tenant string) []string {
	var out []string
	for key := range d.static {
		if user, ok := strings.CutPrefix(key, tenant+"/"); ok {
			out = append(out, user)
		}
	}
	slices.Sort(out)
	return out
}
