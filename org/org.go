// Package org holds the organisation model: tenants and their settings,
// projects (optionally grouped), the upstream service instances and
// resource groups, access groups with members and dynamic rules, and role
// assignments. Directory.Access turns it into what a user may do where.
package org

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/qgov/qgov/ibm/discovery"
	"github.com/qgov/qgov/rbac"
)

// DefaultTenant is the tenant of objects that name none.
const DefaultTenant = "default"

// Tenant returns t, or DefaultTenant when t is empty.
func Tenant(t string) string {
	if t == "" {
		return DefaultTenant
	}
	return t
}

// DefaultIAMURL is where instances exchange their API keys by default.
const DefaultIAMURL = "https://iam.cloud.ibm.com"

// Instance is an upstream Qiskit Runtime service instance.
type Instance struct {
	// Alias is the short name clients may send in Service-CRN instead of
	// the CRN, for example "QR-ml".
	Alias string `json:"alias"`
	// CRN is the instance's real Cloud Resource Name, sent upstream.
	CRN string `json:"crn"`
	// Tenant owns the instance. Default "default".
	Tenant string `json:"tenant,omitempty"`
	// Upstream is the base URL of the instance's Runtime API, for example
	// "https://quantum.cloud.ibm.com/api/v1".
	Upstream string `json:"upstream"`
	// IAMURL is where the upstream API key is exchanged for a bearer
	// token. Default "https://iam.cloud.ibm.com".
	IAMURL string `json:"iam_url,omitempty"`
	// Credential names the IBM Cloud API key of the instance: a
	// credential the operator declared in configuration. Instances
	// created through the governance API must use it.
	Credential string `json:"credential,omitempty"`
	// APIKey is the organisation's IBM Cloud API key for an instance
	// declared in configuration, instead of Credential. Use a runtime
	// placeholder such as "{env.QR_ML_APIKEY}": it is resolved when the
	// config loads and never written back or logged.
	APIKey string `json:"api_key,omitempty"`
	// Plan is the service plan shown to clients by the Global Catalog
	// stand-in. Default "standard".
	Plan string `json:"plan,omitempty"`
	// Backends lists the backends the instance may use: jobs and sessions
	// for any other backend are refused, and discovery publishes them.
	// Empty allows every backend and publishes none by name.
	Backends []string `json:"backends,omitempty"`
	// ResourceGroup places the instance in a resource group, which
	// projects and access groups may reference instead of instances.
	ResourceGroup string `json:"resource_group,omitempty"`
	// Source is where the instance was declared, named in errors.
	Source string `json:"source,omitempty"`

	upstream *url.URL // parsed Upstream
}

// Config is the organisation as configured, with the field names of the
// qgov app's JSON config.
type Config struct {
	// Tenants hold per-tenant settings: execution defaults, approval,
	// priority queue, MFA, session timeouts, self-service API keys, IP
	// allowlists and user-list visibility.
	Tenants []TenantSettings `json:"tenants,omitempty"`
	// Instances are the upstream Qiskit Runtime service instances.
	Instances []Instance `json:"instances,omitempty"`
	// Projects are the units of work jobs belong to, with the instances
	// they may use; a project may group others.
	Projects []Project `json:"projects,omitempty"`
	// Roles are custom roles, beside the predefined viewer, submitter,
	// researcher, team_lead, billing and admin.
	Roles []rbac.RoleConfig `json:"roles,omitempty"`
	// AccessGroups give their members (listed, or by dynamic rules on
	// identity-provider claims) roles in projects.
	AccessGroups []AccessGroup `json:"access_groups,omitempty"`
	// Assignments give users roles in a project or across a tenant, until
	// an optional expiry.
	Assignments []Assignment `json:"assignments,omitempty"`
}

// Directory answers questions about the configured organisation. It is
// built once per config load and only read afterwards, so requests
// consult it without locks or store round trips.
type Directory struct {
	tenants   map[string]*TenantSettings
	instances []*Instance
	byRef     map[string]*Instance // alias or CRN
	projects  map[string]*Project  // tenant/name
	ordered   []*Project           // in config order
	roles     *rbac.Roles
	groups    map[string]*AccessGroup // tenant/name
	groupList []*AccessGroup          // in config order
	assigns   []*Assignment

	static  map[string][]*grant // tenant/user → grants from group members and assignments
	dynamic map[string][]*grant // tenant/group → grants of a group's rule-based members
	ruled   []*AccessGroup      // groups with rules, in config order
	cfg     Config
}

// Current holds the directory in force. A change of the organisation at
// runtime (through the governance API) validates a whole new Directory
// and stores it; readers load it once per use.
type Current = atomic.Pointer[Directory]

// NewCurrent returns a Current holding d.
func NewCurrent(d *Directory) *Current {
	c := new(Current)
	c.Store(d)
	return c
}

// NewDirectory validates the organisation (filling defaults) and indexes
// it. Every problem found is reported, each naming the object and where
// it was declared.
func NewDirectory(c Config) (*Directory, error) {
	d := &Directory{tenants: map[string]*TenantSettings{}, byRef: map[string]*Instance{}, projects: map[string]*Project{},
		groups: map[string]*AccessGroup{}, static: map[string][]*grant{}, dynamic: map[string][]*grant{}, cfg: c}
	var errs []error
	for i := range c.Tenants {
		t := c.Tenants[i]
		t.Name = Tenant(t.Name)
		if err := t.fill(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where("tenant", t.Name, t.Source), err))
		}
		if d.tenants[t.Name] != nil {
			errs = append(errs, fmt.Errorf("%s: declared twice", where("tenant", t.Name, t.Source)))
		}
		d.tenants[t.Name] = &t
	}
	errs = append(errs, d.addInstances(c.Instances)...)
	errs = append(errs, d.addProjects(c.Projects)...)
	roles, err := rbac.Compile(c.Roles)
	if err != nil {
		errs = append(errs, err)
	}
	d.roles = roles
	if roles != nil {
		errs = append(errs, d.addGroups(c.AccessGroups)...)
		errs = append(errs, d.addAssignments(c.Assignments)...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// where names a declaration for error messages.
var where = rbac.Where

func (d *Directory) addInstances(instances []Instance) []error {
	var errs []error
	crns := map[string]bool{} // lower case: an upstream may compare CRNs so

	for i := range instances {
		in := instances[i]
		in.Tenant = Tenant(in.Tenant)
		if in.Plan == "" {
			in.Plan = "standard"
		}
		if in.IAMURL == "" {
			in.IAMURL = DefaultIAMURL
		}
		if err := in.validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where("instance", in.Alias, in.Source), err))
			continue
		}
		in.upstream, _ = url.Parse(in.Upstream) // validated above
		if d.byRef[in.Alias] != nil || d.byRef[in.CRN] != nil || crns[strings.ToLower(in.CRN)] {
			errs = append(errs, fmt.Errorf("%s: alias or CRN declared twice", where("instance", in.Alias, in.Source)))
			continue
		}
		crns[strings.ToLower(in.CRN)] = true
		d.instances = append(d.instances, &in)
		d.byRef[in.Alias], d.byRef[in.CRN] = &in, &in
	}
	return errs
}

func (in *Instance) validate() error {
	var errs []error
	if in.Alias == "" || strings.ContainsAny(in.Alias, " /") {
		errs = append(errs, errors.New("alias is required and may not contain spaces or '/'"))
	}
	if !validCRN(in.CRN) {
		errs = append(errs, fmt.Errorf("crn %q is not an instance CRN (crn:v1:<cname>:<ctype>:<service>:<region>:<scope>:<id>::, of letters, digits and -_./)", in.CRN))
	}
	for name, raw := range map[string]string{"upstream": in.Upstream, "iam_url": in.IAMURL} {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q must be an http or https URL", name, raw))
		}
	}
	if in.APIKey == "" && in.Credential == "" {
		errs = append(errs, errors.New("credential is required: a credential declared in configuration (or, in configuration, an api_key placeholder such as {env.QR_ML_APIKEY})"))
	}
	if !discovery.KnownPlan(in.Plan) {
		errs = append(errs, fmt.Errorf("unknown plan %q (known: %s)", in.Plan, discovery.Plans))
	}
	return errors.Join(errs...)
}

// validCRN accepts an instance CRN: ten fields, the eight first named
// (crn, v1, …, the instance id) and the resource type and resource empty,
// of letters, digits and -_./ only, so that no two spellings of one
// instance (a space, another case) pass as different instances.
func validCRN(crn string) bool {
	f := strings.Split(crn, ":")
	if len(f) != 10 || f[0] != "crn" || f[1] != "v1" || f[8] != "" || f[9] != "" || slices.Contains(f[2:8], "") {
		return false
	}
	return strings.IndexFunc(crn, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:", r))
	}) < 0
}

// UpstreamAddr returns the scheme and host:port of the instance's
// upstream, with the scheme's default port filled in.
func (in *Instance) UpstreamAddr() (scheme, hostport string) {
	u := in.upstream
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme, u.Hostname() + ":" + port
}

// UpstreamBase returns the host and the path of the instance's upstream
// API base, for rebasing request paths onto it.
func (in *Instance) UpstreamBase() (host, path string) { return in.upstream.Host, in.upstream.Path }

// Instances returns every configured instance.
func (d *Directory) Instances() []*Instance { return d.instances }

// Instance finds an instance by alias or exact CRN.
func (d *Directory) Instance(ref string) *Instance { return d.byRef[ref] }

// Tenants returns the names of the tenants with settings or projects,
// sorted.
func (d *Directory) Tenants() []string {
	names := map[string]bool{}
	for name := range d.tenants {
		names[name] = true
	}
	for _, p := range d.ordered {
		names[p.Tenant] = true
	}
	return slices.Sorted(maps.Keys(names))
}

// Project returns a tenant's project, or nil.
func (d *Directory) Project(tenant, name string) *Project { return d.projects[tenant+"/"+name] }
