package org

import (
	"fmt"
	"time"
)

// Assignment gives a user a role in a project, or across a tenant, until
// an optional expiry.
type Assignment struct {
	// User is the user id.
	User string `json:"user"`
	// Role names a predefined or custom role.
	Role string `json:"role"`
	// Tenant the assignment is in. Default "default".
	Tenant string `json:"tenant,omitempty"`
	// Project limits the assignment to a project (and, for a group
	// project, its projects); empty assigns the role in every project of
	// the tenant and over the tenant itself.
	Project string `json:"project,omitempty"`
	// ExpiresAt ends the assignment; it stops granting at that instant.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Source is where the assignment was declared, named in errors.
	Source string `json:"source,omitempty"`
}

func (d *Directory) addAssignments(list []Assignment) []error {
	var errs []error
	for i := range list {
		a := list[i]
		a.Tenant = Tenant(a.Tenant)
		w := where("role assignment", a.User+" "+a.Role, a.Source)
		if err := ValidUserID(a.User); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", w, err))
			continue
		}
		roles, rerrs := d.lookupRoles([]string{a.Role})
		for _, e := range rerrs {
			errs = append(errs, fmt.Errorf("%s: %w", w, e))
		}
		var expires time.Time
		if a.ExpiresAt != nil {
			expires = *a.ExpiresAt
		}
		label := a.Role + " (assignment of " + a.Role + ")"
		if a.Source != "" {
			label = a.Role + " (assignment of " + a.Role + " at " + a.Source + ")"
		}
		var projects []*Project
		wide := a.Project == ""
		if wide {
			for _, p := range d.ordered {
				if p.Tenant == a.Tenant {
					projects = append(projects, p)
				}
			}
		} else if p := d.Project(a.Tenant, a.Project); p != nil {
			projects = p.span()
		} else {
			errs = append(errs, fmt.Errorf("%s: unknown project %q in tenant %q", w, a.Project, a.Tenant))
		}
		if len(roles) == 0 {
			continue
		}
		key := a.Tenant + "/" + a.User
		for _, p := range projects {
			d.static[key] = append(d.static[key], &grant{project: p, reach: p.reach, role: roles[0], label: label, expires: expires, tenantWide: wide})
		}
		if wide && len(projects) == 0 {
			d.static[key] = append(d.static[key], &grant{role: roles[0], label: label, expires: expires, tenantWide: true})
		}
		d.assigns = append(d.assigns, &a)
	}
	return errs
}
