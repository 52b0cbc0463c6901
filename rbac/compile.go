package rbac

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/qgov/qgov/quota"
)

// RoleConfig declares a custom role.
type RoleConfig struct {
	// Name identifies the role, for example "MLreader".
	Name string `json:"name"`
	// Description says what the role is for.
	Description string `json:"description,omitempty"`
	// Inherits names roles whose permissions and limits this role extends.
	Inherits []string `json:"inherits,omitempty"`
	// Permissions are qgov permissions ("job:view:own") or IBM action names
	// ("quantum-computing.job.read", legacy "quantum-computing.program.read").
	Permissions []string `json:"permissions,omitempty"`
	// Limits bound what holders of the role may submit.
	Limits *quota.Limits `json:"limits,omitempty"`
	// Source is where the role was declared ("custom-roles.yaml:12"),
	// named in errors.
	Source string `json:"source,omitempty"`
}

// Where names a declaration for error messages: its kind, name and, when
// known, the file and line it was written at.
func Where(kind, name, source string) string {
	if source == "" {
		return fmt.Sprintf("%s %q", kind, name)
	}
	return fmt.Sprintf("%s %q (%s)", kind, name, source)
}

// Role is a compiled role.
type Role struct {
	Name        string
	Description string
	// Inherits are the roles named in the declaration.
	Inherits []string
	// Set is everything the role allows, inherited permissions included.
	Set Set
	// Limits are the role's limits, inherited ones filled in.
	Limits quota.Limits
}

// Roles are the predefined and custom roles by name.
type Roles struct {
	byName map[string]*Role
}

// Compile validates custom roles and compiles them with the predefined
// ones. Unknown permissions, unknown or cyclic inheritance and names
// taken twice are errors; every problem is reported, each naming the
// role and where it was declared.
func Compile(custom []RoleConfig) (*Roles, error) {
	decl := map[string]*RoleConfig{}
	predefined := Predefined()
	var errs []error
	for i := range predefined {
		decl[predefined[i].Name] = &predefined[i]
	}
	for i := range custom {
		c := &custom[i]
		switch {
		case c.Name == "" || strings.ContainsAny(c.Name, " \t,"):
			errs = append(errs, fmt.Errorf("%s: a role needs a name without spaces or commas", Where("role", c.Name, c.Source)))
			continue
		case decl[c.Name] != nil && slices.ContainsFunc(predefined, func(p RoleConfig) bool { return p.Name == c.Name }):
			errs = append(errs, fmt.Errorf("%s: %q is a predefined role; give the custom role another name", Where("role", c.Name, c.Source), c.Name))
			continue
		case decl[c.Name] != nil:
			errs = append(errs, fmt.Errorf("%s: declared twice (also %s)", Where("role", c.Name, c.Source), decl[c.Name].Source))
			continue
		}
		decl[c.Name] = c
	}
	rs := &Roles{byName: map[string]*Role{}}
	c := compiler{decl: decl, out: rs.byName, visiting: map[string]bool{}}
	names := make([]string, 0, len(decl))
	for name := range decl {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := c.role(name, nil); err != nil && !slices.ContainsFunc(errs, func(e error) bool { return e.Error() == err.Error() }) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rs, nil
}

type compiler struct {
	decl     map[string]*RoleConfig
	out      map[string]*Role
	visiting map[string]bool
}

// role compiles one role after the roles it inherits; path is the
// inheritance chain that led here, for naming a cycle.
func (c *compiler) role(name string, path []string) (*Role, error) {
	if r := c.out[name]; r != nil {
		return r, nil
	}
	d := c.decl[name]
	if c.visiting[name] {
		cycle := append(path[slices.Index(path, name):], name)
		return nil, fmt.Errorf("%s: inheritance cycle %s", Where("role", name, d.Source), strings.Join(cycle, " → "))
	}
	c.visiting[name] = true
	defer delete(c.visiting, name)
	r := &Role{Name: name, Description: d.Description, Inherits: d.Inherits}
	var errs []error
	for _, parent := range d.Inherits {
		if c.decl[parent] == nil {
			errs = append(errs, fmt.Errorf("%s: inherits unknown role %q", Where("role", name, d.Source), parent))
			continue
		}
		pr, err := c.role(parent, append(path, name))
		if err != nil {
			return nil, err
		}
		r.Set.Union(&pr.Set)
		r.Limits = r.Limits.Inherit(pr.Limits)
	}
	for i, perm := range d.Permissions {
		gs, err := ParsePermission(perm)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: permissions[%d]: %w", Where("role", name, d.Source), i, err))
			continue
		}
		for _, g := range gs {
			r.Set.Add(g)
		}
	}
	if d.Limits != nil {
		for _, bad := range d.Limits.Validate() {
			errs = append(errs, fmt.Errorf("%s: limits: %s", Where("role", name, d.Source), bad))
		}
		r.Limits = d.Limits.Inherit(r.Limits)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.out[name] = r
	return r, nil
}

// Get returns a role by name, or nil.
func (rs *Roles) Get(name string) *Role { return rs.byName[name] }
