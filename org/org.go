// Package org holds the organisation model: tenants, their projects, and
// the upstream service instances projects may use.
package org

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/qgov/qgov/platform"
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
	// APIKey is the organisation's IBM Cloud API key for the instance. Use
	// a runtime placeholder such as "{env.QR_ML_APIKEY}": it is resolved
	// when the config loads and never written back or logged.
	APIKey string `json:"api_key"`
	// Plan is the service plan shown to clients by the Global Catalog
	// stand-in. Default "standard".
	Plan string `json:"plan,omitempty"`
	// Backends lists the backends published for the instance in
	// discovery; empty publishes none by name.
	Backends []string `json:"backends,omitempty"`

	upstream *url.URL // parsed Upstream
}

// Project groups users and the instances they may use.
type Project struct {
	// Name identifies the project within its tenant, for example "ml".
	Name string `json:"name"`
	// Tenant owns the project. Default "default".
	Tenant string `json:"tenant,omitempty"`
	// Instances are the aliases of the instances the project may use.
	Instances []string `json:"instances"`
}

// Directory answers questions about the configured organisation.
type Directory struct {
	tenants   map[string]*TenantSettings
	instances []*Instance
	byRef     map[string]*Instance // alias or CRN
	projects  map[string]*Project  // tenant/name
}

// NewDirectory validates tenants, instances and projects (filling
// defaults) and indexes them. Every problem found is reported, not only
// the first.
func NewDirectory(tenants []TenantSettings, instances []Instance, projects []Project) (*Directory, error) {
	d := &Directory{tenants: map[string]*TenantSettings{}, byRef: map[string]*Instance{}, projects: map[string]*Project{}}
	var errs []error
	for i := range tenants {
		t := tenants[i]
		t.Name = Tenant(t.Name)
		if err := t.fill(); err != nil {
			errs = append(errs, fmt.Errorf("tenant %q: %w", t.Name, err))
		}
		if d.tenants[t.Name] != nil {
			errs = append(errs, fmt.Errorf("tenant %q: declared twice", t.Name))
		}
		d.tenants[t.Name] = &t
	}
	for i := range instances {
		in := instances[i]
		in.Tenant = Tenant(in.Tenant)
		if in.Plan == "" {
			in.Plan = "standard"
		}
		if in.IAMURL == "" {
			in.IAMURL = "https://iam.cloud.ibm.com"
		}
		if err := in.validate(); err != nil {
			errs = append(errs, fmt.Errorf("instance %q: %w", in.Alias, err))
			continue
		}
		in.upstream, _ = url.Parse(in.Upstream) // validated above
		if d.byRef[in.Alias] != nil || d.byRef[in.CRN] != nil {
			errs = append(errs, fmt.Errorf("instance %q: alias or CRN declared twice", in.Alias))
			continue
		}
		d.instances = append(d.instances, &in)
		d.byRef[in.Alias], d.byRef[in.CRN] = &in, &in
	}
	for i := range projects {
		p := projects[i]
		p.Tenant = Tenant(p.Tenant)
		if p.Name == "" {
			errs = append(errs, fmt.Errorf("projects[%d]: name is required", i))
			continue
		}
		key := p.Tenant + "/" + p.Name
		if d.projects[key] != nil {
			errs = append(errs, fmt.Errorf("project %q: declared twice in tenant %q", p.Name, p.Tenant))
			continue
		}
		for _, alias := range p.Instances {
			in := d.byRef[alias]
			switch {
			case in == nil || in.Alias != alias:
				errs = append(errs, fmt.Errorf("project %q: unknown instance alias %q", p.Name, alias))
			case in.Tenant != p.Tenant:
				errs = append(errs, fmt.Errorf("project %q: instance %q belongs to tenant %q, not %q", p.Name, alias, in.Tenant, p.Tenant))
			}
		}
		d.projects[key] = &p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

func (in *Instance) validate() error {
	var errs []error
	if in.Alias == "" || strings.ContainsAny(in.Alias, " /") {
		errs = append(errs, errors.New("alias is required and may not contain spaces or '/'"))
	}
	if f := strings.Split(in.CRN, ":"); len(f) < 8 || f[0] != "crn" || f[1] != "v1" {
		errs = append(errs, fmt.Errorf("crn %q is not a CRN (crn:v1:<cname>:<ctype>:<service>:<region>:<scope>:<id>::)", in.CRN))
	}
	for name, raw := range map[string]string{"upstream": in.Upstream, "iam_url": in.IAMURL} {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q must be an http or https URL", name, raw))
		}
	}
	if in.APIKey == "" {
		errs = append(errs, errors.New("api_key is required (use a placeholder such as {env.QR_ML_APIKEY})"))
	}
	if !platform.KnownPlan(in.Plan) {
		errs = append(errs, fmt.Errorf("unknown plan %q (known: %s)", in.Plan, platform.Plans))
	}
	return errors.Join(errs...)
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

// Project returns a tenant's project, or nil.
func (d *Directory) Project(tenant, name string) *Project { return d.projects[tenant+"/"+name] }

// Grants lists, in the order given, those of a tenant's projects that
// may use the instance.
func (d *Directory) Grants(tenant string, projects []string, in *Instance) []string {
	var out []string
	for _, name := range projects {
		if p := d.Project(tenant, name); p != nil && in.Tenant == tenant {
			for _, alias := range p.Instances {
				if alias == in.Alias {
					out = append(out, name)
					break
				}
			}
		}
	}
	return out
}

// Reachable lists the instances any of a tenant's projects may use, in
// configuration order.
func (d *Directory) Reachable(tenant string, projects []string) []*Instance {
	var out []*Instance
	for _, in := range d.instances {
		if len(d.Grants(tenant, projects, in)) > 0 {
			out = append(out, in)
		}
	}
	return out
}
