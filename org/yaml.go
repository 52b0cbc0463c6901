package org

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/rbac"
)

// An organisation file is YAML shaped like IBM's enterprise-governance custom-roles.yaml
// and tenant-config.yaml; one file may hold any of the top-level keys:
//
//	tenant:          # or tenants: [ … ]
//	  id: research-alpha
//	  name: "Research Lab Alpha"
//	  settings: { default_backend, default_shots, max_shots, require_job_approval,
//	              approval_threshold_usd, allow_self_approval, time_zone,
//	              allow_priority_queue, mfa_required,
//	              session_timeout_minutes, session_max_minutes, ip_whitelist (or
//	              ip_allowlist), ip_mode, api_key_creation, user_list_visible,
//	              notify_on_budget_warning, notify_on_job_failure, notification_channels }
//	  projects: [ { id, name, parent, cost_center, grant_id, instances, resource_groups } ]
//	projects: [ … ]  # as above, with an optional tenant
//	instances: [ { alias, crn, tenant, upstream, iam_url, api_key, plan, backends, resource_group } ]
//	roles:
//	  <name>: { description, inherits (a name or a list), permissions, limits }
//	access_groups:
//	  <name>: { tenant, description, members, rules: [ { claim, operator, value, values, provider } ],
//	            projects, instances, resource_groups, roles }
//	assignments: [ { user, role, tenant, project, expires_at } ]
//
// Every object records its file and line, which configuration errors
// name.
type yamlFile struct {
	Tenant       yaml.Node `yaml:"tenant"`
	Tenants      []yaml.Node
	Projects     []yaml.Node
	Instances    []yaml.Node
	Roles        yaml.Node
	AccessGroups yaml.Node `yaml:"access_groups"`
	Assignments  []yaml.Node
}

type yamlTenant struct {
	ID       string       `yaml:"id"`
	Name     string       `yaml:"name"`
	Settings yamlSettings `yaml:"settings"`
	Projects []yaml.Node  `yaml:"projects"`
}

type yamlSettings struct {
	DefaultBackend        string   `yaml:"default_backend"`
	DefaultShots          int      `yaml:"default_shots"`
	MaxShots              int      `yaml:"max_shots"`
	RequireJobApproval    bool     `yaml:"require_job_approval"`
	ApprovalThresholdUSD  float64  `yaml:"approval_threshold_usd"`
	AllowSelfApproval     bool     `yaml:"allow_self_approval"`
	TimeZone              string   `yaml:"time_zone"`
	AllowPriorityQueue    bool     `yaml:"allow_priority_queue"`
	MFARequired           bool     `yaml:"mfa_required"`
	SessionTimeoutMinutes int      `yaml:"session_timeout_minutes"`
	SessionMaxMinutes     int      `yaml:"session_max_minutes"`
	IPWhitelist           []string `yaml:"ip_whitelist"`
	IPAllowlist           []string `yaml:"ip_allowlist"`
	IPMode                string   `yaml:"ip_mode"`
	APIKeyCreation        bool     `yaml:"api_key_creation"`
	UserListVisible       bool     `yaml:"user_list_visible"`
	NotifyOnBudgetWarning bool     `yaml:"notify_on_budget_warning"`
	NotifyOnJobFailure    bool     `yaml:"notify_on_job_failure"`
	NotificationChannels  []string `yaml:"notification_channels"`
}

type yamlProject struct {
	ID             string   `yaml:"id"`
	Name           string   `yaml:"name"`
	Tenant         string   `yaml:"tenant"`
	Parent         string   `yaml:"parent"`
	CostCenter     string   `yaml:"cost_center"`
	GrantID        string   `yaml:"grant_id"`
	Instances      []string `yaml:"instances"`
	ResourceGroups []string `yaml:"resource_groups"`
}

type yamlInstance struct {
	Alias         string   `yaml:"alias"`
	CRN           string   `yaml:"crn"`
	Tenant        string   `yaml:"tenant"`
	Upstream      string   `yaml:"upstream"`
	IAMURL        string   `yaml:"iam_url"`
	APIKey        string   `yaml:"api_key"`
	Plan          string   `yaml:"plan"`
	Backends      []string `yaml:"backends"`
	ResourceGroup string   `yaml:"resource_group"`
}

type yamlRole struct {
	Description string        `yaml:"description"`
	Inherits    stringList    `yaml:"inherits"`
	Permissions []string      `yaml:"permissions"`
	Limits      *quota.Limits `yaml:"limits"`
}

type yamlGroup struct {
	Tenant         string     `yaml:"tenant"`
	Description    string     `yaml:"description"`
	Members        []string   `yaml:"members"`
	Rules          []yamlRule `yaml:"rules"`
	Projects       []string   `yaml:"projects"`
	Instances      []string   `yaml:"instances"`
	ResourceGroups []string   `yaml:"resource_groups"`
	Roles          []string   `yaml:"roles"`
}

type yamlRule struct {
	Claim    string   `yaml:"claim"`
	Operator string   `yaml:"operator"`
	Value    string   `yaml:"value"`
	Values   []string `yaml:"values"`
	Provider string   `yaml:"provider"`
}

type yamlAssignment struct {
	User      string `yaml:"user"`
	Role      string `yaml:"role"`
	Tenant    string `yaml:"tenant"`
	Project   string `yaml:"project"`
	ExpiresAt string `yaml:"expires_at"`
}

// stringList is a YAML string or list of strings.
type stringList []string

// UnmarshalYAML accepts a scalar or a sequence.
func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = []string{n.Value}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*l = list
	return nil
}

// LoadFile reads an organisation file.
func LoadFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading organisation file: %w", err)
	}
	return ParseYAML(path, data)
}

// ParseYAML reads an organisation file's content; name is the file name
// recorded as each object's source. Unknown keys are errors.
func ParseYAML(name string, data []byte) (Config, error) {
	var c Config
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return c, fmt.Errorf("%s: %w", name, err)
	}
	if len(root.Content) == 0 {
		return c, nil
	}
	p := yamlParser{name: name}
	var f yamlFile
	p.decode(root.Content[0], &f)
	if f.Tenant.Kind != 0 {
		f.Tenants = append([]yaml.Node{f.Tenant}, f.Tenants...)
	}
	for i := range f.Tenants {
		p.tenant(&c, &f.Tenants[i])
	}
	for i := range f.Projects {
		c.Projects = append(c.Projects, p.project(&f.Projects[i], ""))
	}
	for i := range f.Instances {
		var y yamlInstance
		p.decode(&f.Instances[i], &y)
		c.Instances = append(c.Instances, Instance{Alias: y.Alias, CRN: y.CRN, Tenant: y.Tenant, Upstream: y.Upstream, IAMURL: y.IAMURL,
			APIKey: y.APIKey, Plan: y.Plan, Backends: y.Backends, ResourceGroup: y.ResourceGroup, Source: p.at(&f.Instances[i])})
	}
	p.each(&f.Roles, "roles", func(name, source string, n *yaml.Node) {
		var y yamlRole
		p.decode(n, &y)
		c.Roles = append(c.Roles, rbac.RoleConfig{Name: name, Description: y.Description, Inherits: y.Inherits,
			Permissions: y.Permissions, Limits: y.Limits, Source: source})
	})
	p.each(&f.AccessGroups, "access_groups", func(name, source string, n *yaml.Node) {
		var y yamlGroup
		p.decode(n, &y)
		g := AccessGroup{Name: name, Tenant: y.Tenant, Description: y.Description, Members: y.Members, Projects: y.Projects,
			Instances: y.Instances, ResourceGroups: y.ResourceGroups, Roles: y.Roles, Source: source}
		for _, r := range y.Rules {
			g.Rules = append(g.Rules, Rule{Provider: r.Provider, Claim: r.Claim, Operator: r.Operator, Value: r.Value, Values: r.Values})
		}
		c.AccessGroups = append(c.AccessGroups, g)
	})
	for i := range f.Assignments {
		var y yamlAssignment
		n := &f.Assignments[i]
		p.decode(n, &y)
		a := Assignment{User: y.User, Role: y.Role, Tenant: y.Tenant, Project: y.Project, Source: p.at(n)}
		if y.ExpiresAt != "" {
			t, err := ParseExpiry(y.ExpiresAt)
			if err != nil {
				p.errs = append(p.errs, fmt.Errorf("%s: expires_at: %w", p.at(n), err))
			}
			a.ExpiresAt = &t
		}
		c.Assignments = append(c.Assignments, a)
	}
	return c, errors.Join(p.errs...)
}

// yamlParser decodes nodes strictly, collecting every error with its
// file and line.
type yamlParser struct {
	name string
	errs []error
}

func (p *yamlParser) at(n *yaml.Node) string { return fmt.Sprintf("%s:%d", p.name, n.Line) }

func (p *yamlParser) decode(n *yaml.Node, v any) {
	if err := p.strict(n, reflect.TypeOf(v).Elem()); err != nil {
		p.errs = append(p.errs, err)
		return
	}
	if err := n.Decode(v); err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s: %w", p.name, err))
	}
}

// strict reports mapping keys that name no field of t (yaml.v3 checks
// known fields only when decoding a document, not a node), nor one of
// the other names t accepts (its YAMLAliases).
func (p *yamlParser) strict(n *yaml.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t == reflect.TypeOf(yaml.Node{}) || t.Kind() != reflect.Struct {
		return nil
	}
	if n.Kind == yaml.SequenceNode {
		var errs []error
		for _, item := range n.Content {
			errs = append(errs, p.strict(item, t))
		}
		return errors.Join(errs...)
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	if a, ok := reflect.Zero(t).Interface().(interface{ YAMLAliases() []string }); ok {
		for _, name := range a.YAMLAliases() {
			fields[name] = reflect.TypeOf("")
		}
	}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		ft, ok := fields[key.Value]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown key %q", p.at(key), key.Value))
			continue
		}
		errs = append(errs, p.strict(val, ft))
	}
	return errors.Join(errs...)
}

// each calls fn for every entry of a name → object mapping.
func (p *yamlParser) each(n *yaml.Node, what string, fn func(name, source string, n *yaml.Node)) {
	if n.Kind == 0 {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errs = append(p.errs, fmt.Errorf("%s: %s must map names to objects", p.at(n), what))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		fn(n.Content[i].Value, p.at(n.Content[i]), n.Content[i+1])
	}
}

func (p *yamlParser) tenant(c *Config, n *yaml.Node) {
	var y yamlTenant
	p.decode(n, &y)
	s := y.Settings
	t := TenantSettings{Name: y.ID, DisplayName: y.Name, DefaultBackend: s.DefaultBackend, DefaultShots: s.DefaultShots,
		MaxShots: s.MaxShots, RequireJobApproval: s.RequireJobApproval, ApprovalThresholdUSD: s.ApprovalThresholdUSD,
		AllowSelfApproval: s.AllowSelfApproval, TimeZone: s.TimeZone, AllowPriorityQueue: s.AllowPriorityQueue, MFARequired: s.MFARequired, SessionIdleSeconds: s.SessionTimeoutMinutes * 60,
		SessionMaxSeconds: s.SessionMaxMinutes * 60, IPAllowlist: append(s.IPWhitelist, s.IPAllowlist...), IPMode: s.IPMode,
		APIKeyCreation: s.APIKeyCreation, UserListVisible: s.UserListVisible, NotifyOnBudgetWarning: s.NotifyOnBudgetWarning,
		NotifyOnJobFailure: s.NotifyOnJobFailure, NotificationChannels: s.NotificationChannels, Source: p.at(n)}
	if t.Name == "" {
		p.errs = append(p.errs, fmt.Errorf("%s: a tenant needs an id", p.at(n)))
	}
	c.Tenants = append(c.Tenants, t)
	for i := range y.Projects {
		c.Projects = append(c.Projects, p.project(&y.Projects[i], t.Name))
	}
}

func (p *yamlParser) project(n *yaml.Node, tenant string) Project {
	var y yamlProject
	p.decode(n, &y)
	if y.Tenant != "" && tenant != "" && y.Tenant != tenant {
		p.errs = append(p.errs, fmt.Errorf("%s: project %q is listed under tenant %q but names tenant %q", p.at(n), y.ID, tenant, y.Tenant))
	}
	if y.Tenant == "" {
		y.Tenant = tenant
	}
	return Project{Name: y.ID, Tenant: y.Tenant, DisplayName: y.Name, Parent: y.Parent, CostCenter: y.CostCenter, GrantID: y.GrantID,
		Instances: y.Instances, ResourceGroups: y.ResourceGroups, Source: p.at(n)}
}

// ParseExpiry reads an RFC 3339 time, or a date (YYYY-MM-DD), which
// expires at the end of that day in UTC.
func ParseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.AddDate(0, 0, 1), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-12-31T23:59:59Z) nor a date (2026-12-31)", s)
}

// Merge appends another file's objects to c.
func (c *Config) Merge(o Config) {
	c.Tenants = append(c.Tenants, o.Tenants...)
	c.Instances = append(c.Instances, o.Instances...)
	c.Projects = append(c.Projects, o.Projects...)
	c.Roles = append(c.Roles, o.Roles...)
	c.AccessGroups = append(c.AccessGroups, o.AccessGroups...)
	c.Assignments = append(c.Assignments, o.Assignments...)
}
