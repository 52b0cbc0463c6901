package caddymodule

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/qgov/qgov/govapi"
	"github.com/qgov/qgov/org"
)

// Credential is an upstream IBM Cloud API key the operator declares once,
// by reference, and instances name: instances created through the
// governance API can use only credentials declared for their tenant, so
// no object created at runtime makes the gateway read a secret.
type Credential struct {
	// Name is what instances name in their credential.
	Name string `json:"name"`
	// Key is the API key, as a placeholder such as {env.IBM_API_KEY}:
	// it is resolved when the config loads and never stored or logged.
	Key string `json:"key"`
	// Tenants are the tenants whose instances created through the
	// governance API may use the credential ("*": every tenant); without
	// them only instances declared in configuration do.
	Tenants []string `json:"tenants,omitempty"`
}

// parseCredential reads credential <name> <key> { tenants <tenant...> }.
func parseCredential(d *caddyfile.Dispenser) (Credential, error) {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return Credential{}, d.Errf("credential needs a name and a key (a placeholder such as {env.IBM_API_KEY})")
	}
	c := Credential{Name: args[0], Key: args[1]}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "tenants":
			c.Tenants = append(c.Tenants, d.RemainingArgs()...)
		default:
			return c, d.Errf("unrecognized credential option %q", d.Val())
		}
	}
	return c, nil
}

// resolveCredentials resolves the declared credentials' keys.
func (a *App) resolveCredentials(repl *caddy.Replacer) (map[string]string, error) {
	out := map[string]string{}
	for _, c := range a.Credentials {
		if c.Name == "" {
			return nil, fmt.Errorf("qgov credential: a name is required")
		}
		if _, dup := out[c.Name]; dup {
			return nil, fmt.Errorf("qgov credential %q: declared twice", c.Name)
		}
		key := c.Key
		if err := resolve(repl, fmt.Sprintf("credential %q key", c.Name), &key); err != nil || key == "" {
			return nil, fmt.Errorf("qgov credential %q: the key or its placeholder is unset or empty", c.Name)
		}
		out[c.Name] = key
	}
	return out, nil
}

// outbound is what API-created objects may name: the credentials and
// channels declared for their tenants, and the allowed origins (by
// default, those of the instances declared in configuration).
func (a *App) outbound() (govapi.Outbound, error) {
	o := govapi.Outbound{Credentials: map[string][]string{}, Channels: map[string][]string{}}
	for _, c := range a.Credentials {
		o.Credentials[c.Name] = c.Tenants
	}
	for _, c := range a.NotificationChannels {
		o.Channels[c.Name] = c.Tenants
	}
	add := func(raw string) error {
		origin := govapi.Origin(raw)
		if origin == "" {
			return fmt.Errorf("qgov outbound_hosts: %q is not an http or https origin", raw)
		}
		if !slices.Contains(o.Origins, origin) {
			o.Origins = append(o.Origins, origin)
		}
		return nil
	}
	for _, h := range a.OutboundHosts {
		if !strings.Contains(h, "://") {
			h = "https://" + h // a bare host is reached over TLS
		}
		if err := add(h); err != nil {
			return o, err
		}
	}
	if len(a.OutboundHosts) > 0 {
		return o, nil
	}
	for _, in := range a.Instances {
		for _, raw := range []string{in.Upstream, cmp.Or(in.IAMURL, org.DefaultIAMURL)} {
			_ = add(raw) // a declared instance's URLs are validated with it
		}
	}
	return o, nil
}
