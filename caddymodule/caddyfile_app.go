package caddymodule

import (
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/dustin/go-humanize"

	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/notify"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/policy"
	"github.com/qgov/qgov/rbac"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("qgov", parseApp)
}

// parseApp reads the `qgov` global option into the qgov app. Syntax:
//
//	qgov {
//	    store bolt [<path>]
//	    store redis {
//	        addrs       <host:port...>
//	        master_name <name>
//	        username    <user>
//	        password    <password>
//	        db          <n>
//	        tls
//	        key_prefix  <prefix>
//	        require_persistence
//	    }
//	    token_ttl            <duration>
//	    signing_key_rotation <duration>
//	    issuer               <iss>
//	    public_url           <external URL of the gateway>
//	    max_body_size        <size>
//	    body_memory          <size>  (request bodies held at once; default 8 × (max_body_size + 8MiB))
//	    circuits             { … }  (see parseCircuits)
//	    audit                { … }  (see parseAudit)
//	    quotas               { … }  (see parseQuotas)
//	    notification_channel <name> <webhook URL or {env.X}> { tenants <t...> }
//	    credential <name> <key, as {env.X}> { tenants <t...> | * }
//	    outbound_hosts <host[:port]...>  (hosts API-created instances may name)
//	    tenant            <name> { … }  (see parseTenant)
//	    identity_provider <name> { … }  (see parseProvider)
//	    instance <alias> {
//	        crn            <crn>
//	        tenant         <tenant>
//	        upstream       <base URL of the Runtime API>
//	        iam_url        <IAM URL>
//	        credential     <name of a credential>
//	        api_key        <key or {env.X}>  (instead of credential)
//	        plan           <plan>
//	        backends       <name...>
//	        resource_group <name>
//	    }
//	    project      <name> { … }  (see parseProject)
//	    role         <name> { … }  (see parseRole)
//	    access_group <name> { … }  (see parseAccessGroup)
//	    assign       <user> <role> [project <p>] [tenant <t>] [expires <time or date>]
//	    org_file     <file.yaml...>  (see org.ParseYAML; relative to the Caddyfile)
//	    governance_file <file.yaml...>  (what qgov gov export writes; see governance.ParseFile)
//	    governance {
//	        refresh_interval <duration>  (how often replicas look for API changes; default 2s)
//	    }
//	    api_key <id> {
//	        key      <key or {env.X}>
//	        sha256   <hex>
//	        user     <user id>
//	        name     <display name>
//	        email    <email>
//	        tenant   <tenant>
//	        projects <project...>   (narrow the key to these of the user's projects)
//	    }
//	}
func parseApp(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	d.Next() // option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "store":
			app.Store, err = parseStore(d)
		case "token_ttl":
			var dur time.Duration
			dur, err = durationArg(d)
			app.TokenTTL = caddy.Duration(dur)
		case "issuer":
			app.Issuer, err = oneArg(d)
		case "max_body_size":
			app.MaxBodySize, err = sizeArg(d)
		case "body_memory":
			app.BodyMemory, err = sizeArg(d)
		case "circuits":
			app.Circuits, err = parseCircuits(d)
		case "quotas":
			if app.Quotas != nil {
				return nil, d.Err("quotas is configured twice")
			}
			app.Quotas = &QuotaConfig{}
			err = parseQuotas(d, app.Quotas)
		case "credential":
			var c Credential
			c, err = parseCredential(d)
			app.Credentials = append(app.Credentials, c)
		case "outbound_hosts":
			app.OutboundHosts = append(app.OutboundHosts, d.RemainingArgs()...)
		case "notification_channel":
			var c notify.Channel
			c, err = parseChannel(d)
			app.NotificationChannels = append(app.NotificationChannels, c)
		case "audit":
			if app.Audit != nil {
				return nil, d.Err("audit is configured twice")
			}
			app.Audit, err = parseAudit(d)
		case "instance":
			var in org.Instance
			in, err = parseInstance(d)
			app.Instances = append(app.Instances, in)
		case "project":
			var p org.Project
			p, err = parseProject(d)
			app.Projects = append(app.Projects, p)
		case "role":
			var r rbac.RoleConfig
			r, err = parseRole(d)
			app.Roles = append(app.Roles, r)
		case "access_group":
			var g org.AccessGroup
			g, err = parseAccessGroup(d)
			app.AccessGroups = append(app.AccessGroups, g)
		case "assign":
			var a org.Assignment
			a, err = parseAssign(d)
			app.Assignments = append(app.Assignments, a)
		case "org_file":
			err = loadOrgFiles(d, app)
		case "policy":
			var p policy.Policy
			p, err = parsePolicy(d)
			app.Policies = append(app.Policies, p)
		case "workflow":
			var w policy.Workflow
			w, err = parseWorkflow(d)
			app.Workflows = append(app.Workflows, w)
		case "policy_file":
			err = loadPolicyFiles(d, app)
		case "governance_file":
			err = loadGovernanceFiles(d, app)
		case "governance":
			app.Governance, err = parseGovernance(d)
		case "api_key":
			var k identity.APIKey
			k, err = parseAPIKey(d)
			app.APIKeys = append(app.APIKeys, k)
		case "tenant":
			var t org.TenantSettings
			t, err = parseTenant(d)
			app.Tenants = append(app.Tenants, t)
		case "identity_provider":
			var p identity.ProviderConfig
			p, err = parseProvider(d)
			app.IdentityProviders = append(app.IdentityProviders, p)
		case "public_url":
			app.PublicURL, err = oneArg(d)
		case "signing_key_rotation":
			var dur time.Duration
			dur, err = durationArg(d)
			app.SigningKeyRotation = caddy.Duration(dur)
		default:
			return nil, d.Errf("unrecognized qgov option %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return httpcaddyfile.App{Name: "qgov", Value: caddyconfig.JSON(app, nil)}, nil
}

// sizeArg reads one positive size such as 32MiB.
func sizeArg(d *caddyfile.Dispenser) (int64, error) {
	what := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 {
		return 0, d.Errf("%s: %q is not a size such as 32MiB", what, v)
	}
	return int64(n), nil
}

// oneArg reads exactly one argument of the current option.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

// nameAndBlock reads `<option> <name> { … }`'s name and calls fn for
// each subdirective of the block.
func nameAndBlock(d *caddyfile.Dispenser, fn func(sub string) error) (string, error) {
	what := d.Val()
	name, err := oneArg(d)
	if err != nil {
		return "", d.Errf("%s needs a name", what)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := fn(d.Val()); err != nil {
			return "", err
		}
	}
	return name, nil
}

func parseStore(d *caddyfile.Dispenser) (*StoreConfig, error) {
	sc := &StoreConfig{}
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	sc.Backend = d.Val()
	switch sc.Backend {
	case "bolt":
		if d.NextArg() {
			sc.Path = d.Val()
		}
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		return sc, nil
	case "redis":
		sc.Addrs = d.RemainingArgs()
	default:
		return nil, d.Errf("unknown store backend %q (use bolt or redis)", sc.Backend)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "addrs":
			sc.Addrs = append(sc.Addrs, d.RemainingArgs()...)
		case "master_name":
			sc.MasterName, err = oneArg(d)
		case "username":
			sc.Username, err = oneArg(d)
		case "password":
			sc.Password, err = oneArg(d)
		case "db":
			var v string
			if v, err = oneArg(d); err == nil {
				if sc.DB, err = strconv.Atoi(v); err != nil || sc.DB < 0 {
					return nil, d.Errf("db must be a non-negative integer, got %q", v)
				}
			}
		case "tls":
			sc.TLS = true
		case "tls_ca":
			sc.TLSCA, err = oneArg(d)
		case "tls_cert":
			if !d.Args(&sc.TLSCert, &sc.TLSKey) || d.NextArg() {
				return nil, d.Err("tls_cert takes the certificate's and the key's PEM files")
			}
		case "tls_server_name":
			sc.TLSServerName, err = oneArg(d)
		case "cluster":
			sc.Cluster = true
		case "pool_size":
			var v string
			if v, err = oneArg(d); err == nil {
				if sc.PoolSize, err = strconv.Atoi(v); err != nil || sc.PoolSize < 1 {
					return nil, d.Errf("pool_size must be a positive integer, got %q", v)
				}
			}
		case "dial_timeout":
			var v string
			if v, err = oneArg(d); err == nil {
				var dur time.Duration
				if dur, err = caddy.ParseDuration(v); err != nil || dur <= 0 {
					return nil, d.Errf("dial_timeout must be a positive duration, got %q", v)
				}
				sc.DialTimeout = caddy.Duration(dur)
			}
		case "key_prefix":
			sc.KeyPrefix, err = oneArg(d)
		case "require_persistence":
			sc.RequirePersistence = true
		default:
			return nil, d.Errf("unrecognized redis store option %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	if len(sc.Addrs) == 0 {
		return nil, d.Err("store redis needs at least one address")
	}
	return sc, nil
}

func parseInstance(d *caddyfile.Dispenser) (org.Instance, error) {
	in := org.Instance{Source: source(d)}
	var err error
	in.Alias, err = nameAndBlock(d, func(sub string) error {
		var err error
		switch sub {
		case "crn":
			in.CRN, err = oneArg(d)
		case "tenant":
			in.Tenant, err = oneArg(d)
		case "upstream":
			in.Upstream, err = oneArg(d)
		case "iam_url":
			in.IAMURL, err = oneArg(d)
		case "api_key":
			in.APIKey, err = oneArg(d)
		case "credential":
			in.Credential, err = oneArg(d)
		case "plan":
			in.Plan, err = oneArg(d)
		case "backends":
			in.Backends = append(in.Backends, d.RemainingArgs()...)
		case "resource_group":
			in.ResourceGroup, err = oneArg(d)
		default:
			return d.Errf("unrecognized instance option %q", sub)
		}
		return err
	})
	return in, err
}

func parseAPIKey(d *caddyfile.Dispenser) (identity.APIKey, error) {
	var k identity.APIKey
	var err error
	k.ID, err = nameAndBlock(d, func(sub string) error {
		var err error
		switch sub {
		case "key":
			k.Key, err = oneArg(d)
		case "sha256":
			k.SHA256, err = oneArg(d)
		case "user":
			k.User, err = oneArg(d)
		case "name":
			k.Name, err = oneArg(d)
		case "email":
			k.Email, err = oneArg(d)
		case "tenant":
			k.Tenant, err = oneArg(d)
		case "projects":
			k.Projects = append(k.Projects, d.RemainingArgs()...)
		default:
			return d.Errf("unrecognized api_key option %q", sub)
		}
		return err
	})
	return k, err
}
