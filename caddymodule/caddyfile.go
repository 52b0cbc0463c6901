// Package caddymodule holds qgov's Caddy modules, Caddyfile directives and
// subcommands; it is the only package that imports Caddy.
package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Directive registration, in pipeline order: qgov's directives are placed
// relative to standard ones so no site block has to say `order`.
func init() {
	httpcaddyfile.RegisterHandlerDirective("qgov", parseHandler)
	httpcaddyfile.RegisterDirectiveOrder("qgov", httpcaddyfile.Before, "basic_auth")
	httpcaddyfile.RegisterHandlerDirective("qgov_simulator", parseSimulator)
	httpcaddyfile.RegisterDirectiveOrder("qgov_simulator", httpcaddyfile.After, "reverse_proxy")
}

// parseHandler reads the `qgov` directive, which takes no arguments:
//
//	qgov
func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // directive name
	if h.NextArg() || h.NextBlock(0) {
		return nil, h.ArgErr()
	}
	return new(Handler), nil
}

func parseSimulator(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	s := new(Simulator)
	return s, s.UnmarshalCaddyfile(h.Dispenser)
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	qgov_simulator [<config_file>] {
//	    config     <config_file>
//	    max_qubits <n>
//	    workers    <n>
//	    queue_size <n>
//	}
func (s *Simulator) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		s.ConfigFile = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "config":
			if !d.NextArg() {
				return d.ArgErr()
			}
			s.ConfigFile = d.Val()
		case "max_qubits", "workers", "queue_size":
			name := d.Val()
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 1 {
				return d.Errf("%s must be a positive integer, got %q", name, d.Val())
			}
			*map[string]*int{"max_qubits": &s.MaxQubits, "workers": &s.Workers, "queue_size": &s.QueueSize}[name] = n
		default:
			return d.Errf("unrecognized qgov_simulator option %q", d.Val())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Simulator)(nil)
