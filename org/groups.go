package org

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qgov/qgov/rbac"
)

// AccessGroup gives its members roles in projects, as IBM Cloud access
// groups give them on service instances. Members are listed users and,
// through dynamic rules, users whose identity-provider claims match.
type AccessGroup struct {
	// Name identifies the group within its tenant, for example
	// "project-ml".
	Name string `json:"name"`
	// Tenant owns the group. Default "default".
	Tenant string `json:"tenant,omitempty"`
	// Description says what the group is for.
	Description string `json:"description,omitempty"`
	// Members are user ids.
	Members []string `json:"members,omitempty"`
	// Rules make users members while their token or sign-in lasts.
	Rules []Rule `json:"rules,omitempty"`
	// Projects the members work in; a group project spans its projects.
	Projects []string `json:"projects"`
	// Instances and ResourceGroups, when given, are what the grants hold
	// on instead of the projects' own instances.
	Instances      []string `json:"instances,omitempty"`
	ResourceGroups []string `json:"resource_groups,omitempty"`
	// Roles the members hold there.
	Roles []string `json:"roles"`
	// Source is where the group was declared, named in errors.
	Source string `json:"source,omitempty"`
}

// grant is one role held in one project, from one source.
type grant struct {
	project    *Project
	reach      []*Instance
	role       *rbac.Role
	label      string    // the role and where it comes from, for denials
	expires    time.Time // zero: never
	tenantWide bool
}

func (d *Directory) addGroups(groups []AccessGroup) []error {
	var errs []error
	for i := range groups {
		g := groups[i]
		g.Tenant = Tenant(g.Tenant)
		w := where("access group", g.Name, g.Source)
		key := g.Tenant + "/" + g.Name
		if g.Name == "" || strings.ContainsAny(g.Name, " /,") {
			errs = append(errs, fmt.Errorf("%s: a group needs a name without spaces, commas or '/'", w))
			continue
		}
		if d.groups[key] != nil {
			errs = append(errs, fmt.Errorf("%s: declared twice in tenant %q", w, g.Tenant))
			continue
		}
		for _, m := range g.Members {
			if err := ValidUserID(m); err != nil {
				errs = append(errs, fmt.Errorf("%s: members: %w", w, err))
			}
		}
		grants, gerrs := d.groupGrants(&g)
		for _, e := range gerrs {
			errs = append(errs, fmt.Errorf("%s: %w", w, e))
		}
		d.groups[key] = &g
		d.groupList = append(d.groupList, &g)
		for _, m := range g.Members {
			d.static[g.Tenant+"/"+m] = append(d.static[g.Tenant+"/"+m], grants...)
		}
		if len(g.Rules) > 0 {
			d.dynamic[key] = grants
			d.ruled = append(d.ruled, &g)
		}
	}
	return errs
}

// groupGrants validates a group and lists the grants its members get.
func (d *Directory) groupGrants(g *AccessGroup) ([]*grant, []error) {
	var errs []error
	for i := range g.Rules {
		if err := g.Rules[i].validate(); err != nil {
			errs = append(errs, fmt.Errorf("rules[%d]: %w", i, err))
		}
	}
	if len(g.Projects) == 0 {
		errs = append(errs, errors.New("projects are required: name the projects the members work in"))
	}
	if len(g.Roles) == 0 {
		errs = append(errs, errors.New("roles are required: name the roles the members hold"))
	}
	var own []*Instance
	if len(g.Instances)+len(g.ResourceGroups) > 0 {
		var rerrs []error
		own, rerrs = d.reach(g.Tenant, g.Instances, g.ResourceGroups)
		errs = append(errs, rerrs...)
	}
	roles, rerrs := d.lookupRoles(g.Roles)
	errs = append(errs, rerrs...)
	var out []*grant
	for _, name := range g.Projects {
		p := d.Project(g.Tenant, name)
		if p == nil {
			errs = append(errs, fmt.Errorf("unknown project %q in tenant %q", name, g.Tenant))
			continue
		}
		for _, q := range p.span() {
			reach := q.reach
			if own != nil {
				reach = own
			}
			for _, r := range roles {
				out = append(out, &grant{project: q, reach: reach, role: r, label: fmt.Sprintf("%s (access group %s)", r.Name, g.Name)})
			}
		}
	}
	return out, errs
}

func (d *Directory) lookupRoles(names []string) ([]*rbac.Role, []error) {
	var out []*rbac.Role
	var errs []error
	for _, name := range names {
		r := d.roles.Get(name)
		if r == nil {
			errs = append(errs, fmt.Errorf("unknown role %q", name))
			continue
		}
		out = append(out, r)
	}
	return out, errs
}

// AccessGroups returns the access groups in config order.
func (d *Directory) AccessGroups() []*AccessGroup { return d.groupList }

// DynamicGroups lists the access groups of a tenant whose rules match a
// verified token of an identity provider.
func (d *Directory) DynamicGroups(tenant, provider string, claims ClaimSource) []string {
	var out []string
	for _, g := range d.ruled {
		if g.Tenant != tenant {
			continue
		}
		for i := range g.Rules {
			r := &g.Rules[i]
			if (r.Provider == "" || r.Provider == provider) && r.Matches(claims) {
				out = append(out, g.Name)
				break
			}
		}
	}
	return out
}
