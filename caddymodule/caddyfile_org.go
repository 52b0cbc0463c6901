package caddymodule

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/rbac"
)

// source names where the current token was written, for errors.
func source(d *caddyfile.Dispenser) string { return fmt.Sprintf("%s:%d", d.File(), d.Line()) }

// intArg reads one non-negative integer argument.
func intArg(d *caddyfile.Dispenser, dst *int) error {
	what := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return d.Errf("%s: %q is not a non-negative integer", what, v)
	}
	*dst = n
	return nil
}

// parseProject reads:
//
//	project <name> {
//	    tenant          <tenant>
//	    display_name    <name>
//	    parent          <group project>
//	    cost_center     <code>
//	    grant_id        <id>
//	    instances       <alias...>
//	    resource_groups <name...>
//	}
func parseProject(d *caddyfile.Dispenser) (org.Project, error) {
	p := org.Project{Source: source(d)}
	var err error
	p.Name, err = nameAndBlock(d, func(sub string) error {
		var err error
		switch sub {
		case "tenant":
			p.Tenant, err = oneArg(d)
		case "display_name":
			p.DisplayName, err = oneArg(d)
		case "parent":
			p.Parent, err = oneArg(d)
		case "cost_center":
			p.CostCenter, err = oneArg(d)
		case "grant_id":
			p.GrantID, err = oneArg(d)
		case "instances":
			p.Instances = append(p.Instances, d.RemainingArgs()...)
		case "resource_groups":
			p.ResourceGroups = append(p.ResourceGroups, d.RemainingArgs()...)
		default:
			return d.Errf("unrecognized project option %q", sub)
		}
		return err
	})
	return p, err
}

// parseRole reads:
//
//	role <name> {
//	    description "<text>"
//	    inherits    <role...>
//	    permissions <permission or IBM action...>
//	    limits {
//	        max_shots_per_job <n>   (and the other limits of quota.Limits)
//	        allowed_backends  <backend...>
//	        blocked_backends  <backend...>
//	    }
//	}
func parseRole(d *caddyfile.Dispenser) (rbac.RoleConfig, error) {
	r := rbac.RoleConfig{Source: source(d)}
	var err error
	r.Name, err = nameAndBlock(d, func(sub string) error {
		var err error
		switch sub {
		case "description":
			r.Description, err = oneArg(d)
		case "inherits":
			r.Inherits = append(r.Inherits, d.RemainingArgs()...)
		case "permissions":
			r.Permissions = append(r.Permissions, d.RemainingArgs()...)
		case "limits":
			r.Limits, err = parseLimits(d)
		default:
			return d.Errf("unrecognized role option %q", sub)
		}
		return err
	})
	return r, err
}

// parseLimits reads a limits block: any numeric limit of quota.Limits
// by name with its value, allowed_backends (or backends) and
// blocked_backends with backend names, and raise.
func parseLimits(d *caddyfile.Dispenser) (*quota.Limits, error) {
	return parseLimitsWith(d, func(string) (bool, error) { return false, nil })
}

// parseLimitsWith reads a limits block whose other options extra reads
// (reporting whether it knew the option).
func parseLimitsWith(d *caddyfile.Dispenser, extra func(sub string) (bool, error)) (*quota.Limits, error) {
	l := &quota.Limits{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		field, numeric := quota.FieldByName(d.Val())
		switch sub := d.Val(); {
		case numeric:
			var n int
			if err := intArg(d, &n); err != nil {
				return nil, err
			}
			l.Set(field, n)
		case sub == "raise":
			l.Raise = true
		case sub == "backends" || sub == "allowed_backends":
			l.AllowedBackends = append(l.AllowedBackends, d.RemainingArgs()...)
		case sub == "blocked_backends":
			l.BlockedBackends = append(l.BlockedBackends, d.RemainingArgs()...)
		default:
			known, err := extra(sub)
			if err != nil {
				return nil, err
			}
			if !known {
				return nil, d.Errf("unrecognized limit %q", sub)
			}
		}
	}
	return l, nil
}

// parseAccessGroup reads:
//
//	access_group <name> {
//	    tenant          <tenant>
//	    description     "<text>"
//	    members         <user...>
//	    rule            <claim> equals|has_word|prefix <value>
//	    rule            <claim> in <value...>
//	    provider        <identity provider>   (the rules apply to its tokens only)
//	    projects        <project...>
//	    instances       <alias...>
//	    resource_groups <name...>
//	    roles           <role...>
//	}
func parseAccessGroup(d *caddyfile.Dispenser) (org.AccessGroup, error) {
	g := org.AccessGroup{Source: source(d)}
	var provider string
	var err error
	g.Name, err = nameAndBlock(d, func(sub string) error {
		var err error
		switch sub {
		case "tenant":
			g.Tenant, err = oneArg(d)
		case "description":
			g.Description, err = oneArg(d)
		case "members":
			g.Members = append(g.Members, d.RemainingArgs()...)
		case "rule":
			var r org.Rule
			if r, err = parseRule(d); err == nil {
				g.Rules = append(g.Rules, r)
			}
		case "provider":
			provider, err = oneArg(d)
		case "projects":
			g.Projects = append(g.Projects, d.RemainingArgs()...)
		case "instances":
			g.Instances = append(g.Instances, d.RemainingArgs()...)
		case "resource_groups":
			g.ResourceGroups = append(g.ResourceGroups, d.RemainingArgs()...)
		case "roles":
			g.Roles = append(g.Roles, d.RemainingArgs()...)
		default:
			return d.Errf("unrecognized access_group option %q", sub)
		}
		return err
	})
	for i := range g.Rules {
		g.Rules[i].Provider = provider
	}
	return g, err
}

// parseRule reads `rule <claim> <operator> <value...>`.
func parseRule(d *caddyfile.Dispenser) (org.Rule, error) {
	args := d.RemainingArgs()
	if len(args) < 3 {
		return org.Rule{}, d.Err("rule syntax: rule <claim> <operator> <value...>")
	}
	r := org.Rule{Claim: args[0], Operator: args[1]}
	switch values := args[2:]; {
	case r.Operator == org.OpIn:
		r.Values = values
	case len(values) == 1:
		r.Value = values[0]
	default:
		return r, d.Errf("rule: operator %s takes one value, got %d", r.Operator, len(values))
	}
	return r, nil
}

// parseAssign reads `assign <user> <role> [project <p>] [tenant <t>]
// [expires <RFC 3339 time or date>]`.
func parseAssign(d *caddyfile.Dispenser) (org.Assignment, error) {
	a := org.Assignment{Source: source(d)}
	args := d.RemainingArgs()
	if len(args) < 2 || len(args)%2 != 0 {
		return a, d.Err("assign syntax: assign <user> <role> [project <p>] [tenant <t>] [expires <time>]")
	}
	a.User, a.Role = args[0], args[1]
	for i := 2; i < len(args); i += 2 {
		switch v := args[i+1]; args[i] {
		case "project":
			a.Project = v
		case "tenant":
			a.Tenant = v
		case "expires":
			t, err := org.ParseExpiry(v)
			if err != nil {
				return a, d.Errf("assign: expires: %v", err)
			}
			a.ExpiresAt = &t
		default:
			return a, d.Errf("assign: unknown option %q (use project, tenant or expires)", args[i])
		}
	}
	return a, nil
}

// loadOrgFiles reads `org_file <file...>`: organisation files in IBM's
// enterprise-governance YAML shapes, relative to the Caddyfile, merged into the app so
// that both ways of writing the model adapt to the same JSON.
func loadOrgFiles(d *caddyfile.Dispenser, app *App) error {
	return eachFile(d, func(f string) error {
		c, err := org.LoadFile(f)
		if err != nil {
			return d.Errf("org_file: %v", err)
		}
		app.Merge(c)
		return nil
	})
}

// eachFile calls fn with each file argument, a relative one resolved
// against the Caddyfile's directory.
func eachFile(d *caddyfile.Dispenser, fn func(path string) error) error {
	files := d.RemainingArgs()
	if len(files) == 0 {
		return d.ArgErr()
	}
	for _, f := range files {
		if !filepath.IsAbs(f) && d.File() != "" {
			f = filepath.Join(filepath.Dir(d.File()), f)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}
