package caddymodule

import (
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/qgov/qgov/notify"
	"github.com/qgov/qgov/quota"
)

// parseQuotas reads:
//
//	quotas {
//	    limits tenant|project|user|key <name> {
//	        tenant <tenant>                 (for project, user and key)
//	        max_concurrent_jobs <n>         (and every limit of quota.Limits)
//	        allowed_backends    <backend...>
//	        blocked_backends    <backend...>
//	        raise                           (may exceed less specific levels)
//	    }
//	    budget tenant|project <name> {
//	        tenant                  <tenant>   (for a project)
//	        monthly_limit_usd       <amount>
//	        alert_threshold_percent <percent>
//	    }
//	    price              <backend> <USD per quantum-second>
//	    default_price      <USD per quantum-second>
//	    fail_mode          rate|jobs|budget open|closed
//	    unknown_size       refuse|bounded
//	    reconcile_interval <duration>
//	    store_timeout      <duration>
//	}
func parseQuotas(d *caddyfile.Dispenser, qc *QuotaConfig) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "limits":
			var r quota.Rule
			r, err = parseLimitRule(d)
			qc.Limits = append(qc.Limits, r)
		case "budget":
			var b quota.Budget
			b, err = parseBudget(d)
			qc.Budgets = append(qc.Budgets, b)
		case "price":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.ArgErr()
			}
			var p float64
			if p, err = usdArg(d, args[1]); err == nil {
				if qc.Prices == nil {
					qc.Prices = map[string]float64{}
				}
				qc.Prices[args[0]] = p
			}
		case "default_price":
			var v string
			if v, err = oneArg(d); err == nil {
				var p float64
				p, err = usdArg(d, v)
				qc.DefaultPrice = &p
			}
		case "unknown_size":
			qc.UnknownSize, err = oneArg(d)
		case "fail_mode":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.ArgErr()
			}
			if qc.FailModes == nil {
				qc.FailModes = map[string]string{}
			}
			qc.FailModes[args[0]] = args[1]
		case "reconcile_interval", "store_timeout":
			var dur time.Duration
			dur, err = durationArg(d)
			if opt == "reconcile_interval" {
				qc.ReconcileInterval = caddy.Duration(dur)
			} else {
				qc.StoreTimeout = caddy.Duration(dur)
			}
		default:
			return d.Errf("unrecognized quotas option %q", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// scopeAndName reads the "<scope> <name>" arguments of a limits or budget.
func scopeAndName(d *caddyfile.Dispenser) (string, string, error) {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return "", "", d.ArgErr()
	}
	return args[0], args[1], nil
}

func parseLimitRule(d *caddyfile.Dispenser) (quota.Rule, error) {
	r := quota.Rule{Source: source(d)}
	var err error
	if r.Scope, r.Name, err = scopeAndName(d); err != nil {
		return r, err
	}
	l, err := parseLimitsWith(d, func(sub string) (bool, error) {
		if sub != "tenant" {
			return false, nil
		}
		var err error
		r.Tenant, err = oneArg(d)
		return true, err
	})
	if l != nil {
		r.Limits = *l
	}
	return r, err
}

func parseBudget(d *caddyfile.Dispenser) (quota.Budget, error) {
	b := quota.Budget{Source: source(d)}
	var err error
	if b.Scope, b.Name, err = scopeAndName(d); err != nil {
		return b, err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var v string
		switch sub := d.Val(); sub {
		case "tenant":
			b.Tenant, err = oneArg(d)
		case "monthly_limit_usd":
			if v, err = oneArg(d); err == nil {
				b.MonthlyLimitUSD, err = usdArg(d, v)
			}
		case "alert_threshold_percent":
			err = intArg(d, &b.AlertThresholdPercent)
		default:
			return b, d.Errf("unrecognized budget option %q", sub)
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// usdArg parses an amount of USD.
func usdArg(d *caddyfile.Dispenser, v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		return 0, d.Errf("%q is not a non-negative amount of USD", v)
	}
	return f, nil
}

// parseChannel reads:
//
//	notification_channel <name> <webhook or smtp(s) URL> {
//	    format json|slack|email
//	    from   <address>
//	    to     <address...>
//	    secret {env.WEBHOOK_SECRET}   # signs a webhook's messages (whsec_…)
//	    tenants <tenant...>
//	}
func parseChannel(d *caddyfile.Dispenser) (notify.Channel, error) {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return notify.Channel{}, d.ArgErr()
	}
	c := notify.Channel{Name: args[0], URL: args[1]}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "format":
			c.Format, err = oneArg(d)
		case "from":
			c.From, err = oneArg(d)
		case "to":
			c.To = append(c.To, d.RemainingArgs()...)
		case "tenants":
			c.Tenants = append(c.Tenants, d.RemainingArgs()...)
		case "secret":
			c.Secret, err = oneArg(d)
		default:
			err = d.Errf("unrecognized notification_channel option %q", d.Val())
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}
