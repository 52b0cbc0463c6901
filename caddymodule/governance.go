package caddymodule

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/governance"
	"github.com/qgov/qgov/ibm/iam"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/policy"
	"github.com/qgov/qgov/quota"
)

// defaultRefresh is how often a replica looks for governance changes
// other replicas made.
const defaultRefresh = 2 * time.Second

// GovernanceConfig tunes the governance API's live objects.
type GovernanceConfig struct {
	// RefreshInterval is how often a replica looks in the store for
	// objects other replicas created or changed through the governance
	// API; the replica that made a change applies it at once. Default 2s.
	RefreshInterval caddy.Duration `json:"refresh_interval,omitempty"`
}

// held is what the app holds while its config runs: the upstream
// credentials in force and the token sources it took from the pool.
type held struct {
	creds atomic.Pointer[map[string]gateway.Credentials]
	mu    sync.Mutex
	// tokens are the upstream token sources the app holds, by pool key.
	tokens map[string]*iam.TokenSource
}

// model is a whole governance configuration, validated and compiled.
type model struct {
	dir      *org.Directory
	policies *policy.Set
	quota    quota.Config
	creds    map[string]gateway.Credentials // by instance alias
	findings []org.Finding
}

// declared is the governance configuration the config declares.
func (a *App) declared() governance.Config {
	c := governance.Config{Config: a.Config, Policies: a.Policies, Workflows: a.Workflows}
	if a.Quotas != nil {
		c.Limits, c.Budgets = a.Quotas.Limits, a.Quotas.Budgets
	}
	return c
}

// build validates and compiles a whole governance configuration: the
// organisation with the API keys and identity providers, the quota
// limits and budgets, the policies and workflows and their channels.
// Instance API keys are resolved here, so a secret lives only in the
// model, never in the store or the config: a credential's key for any
// instance, an api_key placeholder only for an instance declared in
// configuration.
func (a *App) build(c governance.Config) (*model, error) {
	c.Instances = slices.Clone(c.Instances)
	for i := range c.Instances {
		if err := a.instanceKey(&c.Instances[i]); err != nil {
			return nil, err
		}
	}
	dir, findings, err := governance.BuildOrg(c.Config, a.keys, a.providers)
	if err != nil {
		return nil, err
	}
	qc, err := a.quotaConfig(c, dir)
	if err != nil {
		return nil, err
	}
	set, err := policy.Compile(c.Policies, c.Workflows)
	if err != nil {
		return nil, fmt.Errorf("qgov policies: %w", err)
	}
	if err := a.checkChannels(c); err != nil {
		return nil, err
	}
	m := &model{dir: dir, policies: set, quota: qc, findings: findings, creds: map[string]gateway.Credentials{}}
	for _, in := range dir.Instances() {
		m.creds[in.Alias] = a.tokenSource(in)
	}
	return m, nil
}

// instanceKey puts an instance's resolved API key in its APIKey.
func (a *App) instanceKey(in *org.Instance) error {
	declared := slices.ContainsFunc(a.Instances, func(d org.Instance) bool { return d.Alias == in.Alias && org.Tenant(d.Tenant) == org.Tenant(in.Tenant) })
	switch {
	case in.Credential != "" && in.APIKey != "":
		return fmt.Errorf("qgov instance %q: name a credential or an api_key, not both", in.Alias)
	case in.Credential != "":
		key, ok := a.creds[in.Credential]
		if !ok {
			return fmt.Errorf("qgov instance %q: credential %q is not declared (credential %s <key>)", in.Alias, in.Credential, in.Credential)
		}
		in.APIKey = key
	case !declared:
		return fmt.Errorf("qgov instance %q: an instance created through the governance API names a credential, never an api_key", in.Alias)
	case in.APIKey != "":
		return resolve(a.repl, fmt.Sprintf("instance %q api_key", in.Alias), &in.APIKey)
	}
	return nil
}

// use puts a model in force: requests that start after it see the new
// organisation, policies, limits and credentials.
func (a *App) use(m *model) {
	a.held.creds.Store(&m.creds)
	a.dir.Store(m.dir)
	a.policies.Store(m.policies)
	if err := a.governor.Reconfigure(m.quota); err != nil {
		a.logger.Error("reconfiguring quotas", "error", err) // build checked the same configuration
	}
}

// credentials returns an instance's upstream credentials in force.
func (a *App) credentials(in *org.Instance) gateway.Credentials {
	if m := a.held.creds.Load(); m != nil {
		return (*m)[in.Alias]
	}
	return nil
}

// refreshInterval is how often the governance objects are refreshed.
func (a *App) refreshInterval() time.Duration {
	if a.Governance != nil && a.Governance.RefreshInterval > 0 {
		return time.Duration(a.Governance.RefreshInterval)
	}
	return defaultRefresh
}

// loadGovernanceFiles reads governance_file <file...>: governance files
// as qgov gov export writes them.
func loadGovernanceFiles(d *caddyfile.Dispenser, app *App) error {
	return eachFile(d, func(f string) error {
		c, err := governance.LoadFile(f)
		if err != nil {
			return d.Errf("governance_file: %v", err)
		}
		declared := app.declared()
		declared.Merge(c)
		app.Tenants, app.Instances, app.Projects, app.Roles = declared.Tenants, declared.Instances, declared.Projects, declared.Roles
		app.AccessGroups, app.Assignments, app.Policies, app.Workflows = declared.AccessGroups, declared.Assignments, declared.Policies, declared.Workflows
		if len(declared.Limits)+len(declared.Budgets) > 0 {
			if app.Quotas == nil {
				app.Quotas = new(QuotaConfig)
			}
			app.Quotas.Limits, app.Quotas.Budgets = declared.Limits, declared.Budgets
		}
		return nil
	})
}

// parseGovernance reads governance { refresh_interval <duration> }.
func parseGovernance(d *caddyfile.Dispenser) (*GovernanceConfig, error) {
	g := new(GovernanceConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "refresh_interval":
			dur, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			g.RefreshInterval = caddy.Duration(dur)
		default:
			return nil, d.Errf("unrecognized governance option %q", d.Val())
		}
	}
	return g, nil
}

// heldTokens are the pool keys of the token sources the app holds.
func (a *App) heldTokens() map[string]*iam.TokenSource {
	if a.held == nil {
		return nil
	}
	return a.held.tokens
}
