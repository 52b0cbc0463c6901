package caddymodule

import (
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
//	    display_name     <name>
//	    default_backend  <backend>
//	    default_shots    <n>
//	    max_shots        <n>
//	    require_job_approval [<threshold USD>]
//	    allow_self_approval
//	    time_zone        <IANA zone>
//	    allow_priority_queue
//	    user_list_visible
//	    notify_on_budget_warning
//	    notify_on_job_failure
//	    notification_channels <channel...>
//	}
func parseTenant(d *caddyfile.Dispenser) (org.TenantSettings, error) {
	t := org.TenantSettings{Source: source(d)}
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
		case "display_name":
			var err error
			t.DisplayName, err = oneArg(d)
			return err
		case "default_backend":
			var err error
			t.DefaultBackend, err = oneArg(d)
			return err
		case "default_shots":
			return intArg(d, &t.DefaultShots)
		case "max_shots":
			return intArg(d, &t.MaxShots)
		case "require_job_approval":
			t.RequireJobApproval = true
			if d.NextArg() {
				v, err := strconv.ParseFloat(d.Val(), 64)
				if err != nil || v < 0 {
					return d.Errf("require_job_approval: threshold %q is not an amount in USD", d.Val())
				}
				t.ApprovalThresholdUSD = v
			}
		case "allow_self_approval":
			t.AllowSelfApproval = true
		case "time_zone":
			var err error
			t.TimeZone, err = oneArg(d)
			return err
		case "allow_priority_queue":
			t.AllowPriorityQueue = true
		case "user_list_visible":
			t.UserListVisible = true
		case "notify_on_budget_warning":
			t.NotifyOnBudgetWarning = true
		case "notify_on_job_failure":
			t.NotifyOnJobFailure = true
		case "notification_channels":
			t.NotificationChannels = append(t.NotificationChannels, d.RemainingArgs()...)
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
//	    user_prefix   <prefix>  (default "<name>." unless claim user is set)
//	    accounts      <account id...>
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
		case "user_prefix":
			p.UserPrefix, err = oneArg(d)
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
