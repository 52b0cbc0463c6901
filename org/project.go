package org

import (
	"fmt"
	"slices"
	"strings"
)

// Project is a unit of work within a tenant: jobs and sessions belong to
// one. A project may group others (IBM Quantum's hub/group/project): a
// grant on the group holds on each of its projects.
type Project struct {
	// Name identifies the project within its tenant, for example "ml".
	Name string `json:"name"`
	// Tenant owns the project. Default "default".
	Tenant string `json:"tenant,omitempty"`
	// DisplayName is the project's human name.
	DisplayName string `json:"display_name,omitempty"`
	// Parent names the group project this one belongs to.
	Parent string `json:"parent,omitempty"`
	// CostCenter and GrantID are accounting metadata, carried into
	// reports.
	CostCenter string `json:"cost_center,omitempty"`
	GrantID    string `json:"grant_id,omitempty"`
	// Instances are the aliases of the instances the project may use.
	Instances []string `json:"instances,omitempty"`
	// ResourceGroups add every instance of these resource groups.
	ResourceGroups []string `json:"resource_groups,omitempty"`
	// Source is where the project was declared, named in errors.
	Source string `json:"source,omitempty"`

	reach    []*Instance // Instances and those of ResourceGroups
	children []*Project  // projects whose parent this is
}

func (d *Directory) addProjects(projects []Project) []error {
	var errs []error
	var added []*Project
	for i := range projects {
		p := projects[i]
		p.Tenant = Tenant(p.Tenant)
		if p.Name == "" || strings.ContainsAny(p.Name, " /,") {
			errs = append(errs, fmt.Errorf("%s: a project needs a name without spaces, commas or '/'", where("project", p.Name, p.Source)))
			continue
		}
		key := p.Tenant + "/" + p.Name
		if d.projects[key] != nil {
			errs = append(errs, fmt.Errorf("%s: declared twice in tenant %q", where("project", p.Name, p.Source), p.Tenant))
			continue
		}
		reach, rerrs := d.reach(p.Tenant, p.Instances, p.ResourceGroups)
		for _, e := range rerrs {
			errs = append(errs, fmt.Errorf("%s: %w", where("project", p.Name, p.Source), e))
		}
		p.reach = reach
		d.projects[key] = &p
		d.ordered = append(d.ordered, &p)
		added = append(added, &p)
	}
	for _, p := range added {
		if p.Parent == "" {
			continue
		}
		parent := d.projects[p.Tenant+"/"+p.Parent]
		if parent == nil {
			errs = append(errs, fmt.Errorf("%s: unknown parent project %q in tenant %q", where("project", p.Name, p.Source), p.Parent, p.Tenant))
			continue
		}
		parent.children = append(parent.children, p)
	}
	for _, p := range added {
		if cycle := p.parentCycle(d); cycle != nil {
			errs = append(errs, fmt.Errorf("%s: parent cycle %s", where("project", p.Name, p.Source), strings.Join(cycle, " → ")))
		}
	}
	return errs
}

// parentCycle returns the chain of parents from p back to p, or nil.
func (p *Project) parentCycle(d *Directory) []string {
	chain := []string{p.Name}
	for q := p; q.Parent != ""; {
		q = d.projects[q.Tenant+"/"+q.Parent]
		if q == nil {
			return nil
		}
		chain = append(chain, q.Name)
		if q == p {
			return chain
		}
		if len(chain) > len(d.projects) {
			return nil // a cycle not through p; reported from its members
		}
	}
	return nil
}

// span is the project and every project below it.
func (p *Project) span() []*Project {
	out := []*Project{p}
	for i := 0; i < len(out); i++ {
		for _, c := range out[i].children {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// reach resolves instance aliases and resource groups within a tenant.
func (d *Directory) reach(tenant string, aliases, groups []string) ([]*Instance, []error) {
	var out []*Instance
	var errs []error
	for _, alias := range aliases {
		in := d.byRef[alias]
		switch {
		case in == nil || in.Alias != alias:
			errs = append(errs, fmt.Errorf("unknown instance alias %q", alias))
		case in.Tenant != tenant:
			errs = append(errs, fmt.Errorf("instance %q belongs to tenant %q, not %q", alias, in.Tenant, tenant))
		case !slices.Contains(out, in):
			out = append(out, in)
		}
	}
	for _, rg := range groups {
		found := false
		for _, in := range d.instances {
			if in.ResourceGroup == rg && in.Tenant == tenant {
				found = true
				if !slices.Contains(out, in) {
					out = append(out, in)
				}
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("resource group %q has no instance in tenant %q", rg, tenant))
		}
	}
	return out, errs
}
