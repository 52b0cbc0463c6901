package caddymodule

import (
	"slices"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/org"
)

// durationArg reads one duration argument.
func durationArg(d *caddyfile.Dispenser) (time.Duration, error) {
	what := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur < 0 {
		return 0, d.Errf("%s: %q is not a duration such as 30m", what, v)
	}
	return dur, nil
}

// secondsArg reads one duration argument as whole seconds.
func secondsArg(d *caddyfile.Dispenser, dst *int) error {
	dur, err := durationArg(d)
	*dst = int(dur.Seconds())
	return err
}

// parseTenant reads:
//
//	tenant <name> {
//	    mfa_required
//	    session_idle     <duration>
//	    session_max      <duration>
//	    api_key_creation
//	    ip_allowlist     <cidr...>
//	    ip_mode          enforce|audit
//	    admins           <user...>
//	}
func parseTenant(d *caddyfile.Dispenser) (org.TenantSettings, error) {
	var t org.TenantSettings
	var err error
	t.Name, err = nameAndBlock(d, func(sub string) error {
		switch sub {
		case "mfa_required":
			t.MFARequired = true
		case "api_key_creation":
			t.APIKeyCreation = true
		case "session_idle":
			return secondsArg(d, &t.SessionIdleSeconds)
		case "session_max":
			return secondsArg(d, &t.SessionMaxSeconds)
		case "ip_allowlist":
			t.IPAllowlist = append(t.IPAllowlist, d.RemainingArgs()...)
		case "ip_mode":
			var err error
			t.IPMode, err = oneArg(d)
			return err
		case "admins":
			t.Admins = append(t.Admins, d.RemainingArgs()...)
		default:
			return d.Errf("unrecognized tenant option %q", sub)
		}
		return nil
	})
	return t, err
}

// parseProvider reads:
//
//	identity_provider <name> {
//	    type          oidc|iam
//	    issuer        <url>
//	    jwks_url      <url>
//	    audiences     <aud...>
//	    client_id     <id>
//	    client_secret <secret or {env.X}>
//	    scopes        <scope...>
//	    algorithms    <alg...>
//	    clock_skew    <duration>
//	    tenant        <tenant>
//	    claim         user|name|email|groups <claim>
//	    accounts      <account id...>
//	    rule          <claim> equals|has_word|prefix <value> => <project...>
//	    rule          <claim> in <value...> => <project...>
//	}
func parseProvider(d *caddyfile.Dispenser) (identity.ProviderConfig, error) {
	var p identity.ProviderConfig
	var err error
	p.Name, err = nameAndBlock(d, func(sub string) error {
		var err error
		switch sub {
		case "type":
			p.Type, err = oneArg(d)
		case "issuer":
			p.Issuer, err = oneArg(d)
		case "jwks_url":
			p.JWKSURL, err = oneArg(d)
		case "audiences":
			p.Audiences = append(p.Audiences, d.RemainingArgs()...)
		case "client_id":
			p.ClientID, err = oneArg(d)
		case "client_secret":
			p.ClientSecret, err = oneArg(d)
		case "scopes":
			p.Scopes = append(p.Scopes, d.RemainingArgs()...)
		case "algorithms":
			p.Algorithms = append(p.Algorithms, d.RemainingArgs()...)
		case "clock_skew":
			err = secondsArg(d, &p.ClockSkewSeconds)
		case "tenant":
			p.Tenant, err = oneArg(d)
		case "accounts":
			p.Accounts = append(p.Accounts, d.RemainingArgs()...)
		case "claim":
			err = parseClaim(d, &p.Claims)
		case "rule":
			var r identity.Rule
			if r, err = parseRule(d); err == nil {
				p.Rules = append(p.Rules, r)
			}
		default:
			return d.Errf("unrecognized identity_provider option %q", sub)
		}
		return err
	})
	return p, err
}

func parseClaim(d *caddyfile.Dispenser, m *identity.ClaimMap) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Err("claim needs a field (user, name, email or groups) and a claim name")
	}
	dst := map[string]*string{"user": &m.User, "name": &m.Name, "email": &m.Email, "groups": &m.Groups}[args[0]]
	if dst == nil {
		return d.Errf("claim: unknown field %q (use user, name, email or groups)", args[0])
	}
	*dst = args[1]
	return nil
}

// parseRule reads `rule <claim> <operator> <value...> => <project...>`.
func parseRule(d *caddyfile.Dispenser) (identity.Rule, error) {
	args := d.RemainingArgs()
	arrow := slices.Index(args, "=>")
	if len(args) < 3 || arrow < 3 || arrow == len(args)-1 {
		return identity.Rule{}, d.Err("rule syntax: rule <claim> <operator> <value...> => <project...>")
	}
	r := identity.Rule{Claim: args[0], Operator: args[1], Projects: args[arrow+1:]}
	values := args[2:arrow]
	if r.Operator == identity.OpIn {
		r.Values = values
	} else if len(values) == 1 {
		r.Value = values[0]
	} else {
		return r, d.Errf("rule: operator %s takes one value, got %s", r.Operator, strconv.Itoa(len(values)))
	}
	return r, nil
}
