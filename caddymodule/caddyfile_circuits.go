package caddymodule

import (
	"fmt"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/qgov/qgov/circuit"
)

// CircuitLimits bound the work of reading one job's circuits, all of its
// pubs together. A job beyond them is refused with 413
// circuits_too_large before anything is forwarded.
type CircuitLimits struct {
	// MaxInstructions bounds the operations the circuits are written
	// with, the calls in gate definitions included. Default 1048576.
	MaxInstructions int `json:"max_instructions,omitempty"`
	// MaxExpansion bounds the operations calls of defined gates expand
	// to when depth is counted; past it a job's depth is unknown and it
	// is refused under max_circuit_depth. Default 1048576.
	MaxExpansion int `json:"max_expansion,omitempty"`
	// MaxInflatedSize bounds the bytes compressed circuits and parameter
	// arrays inflate to. Default 64 MiB.
	MaxInflatedSize int64 `json:"max_inflated_size,omitempty"`
}

// limits returns the limits with defaults filled in.
func (c *CircuitLimits) limits() (circuit.Limits, error) {
	l := circuit.DefaultLimits
	if c == nil {
		return l, nil
	}
	if c.MaxInstructions < 0 || c.MaxExpansion < 0 || c.MaxInflatedSize < 0 {
		return l, fmt.Errorf("qgov circuits: limits must not be negative")
	}
	if c.MaxInstructions > 0 {
		l.Instructions = c.MaxInstructions
	}
	if c.MaxExpansion > 0 {
		l.Expansion = c.MaxExpansion
	}
	if c.MaxInflatedSize > 0 {
		l.Bytes = c.MaxInflatedSize
	}
	return l, nil
}

// parseCircuits reads:
//
//	circuits {
//	    max_instructions  <n>
//	    max_expansion     <n>
//	    max_inflated_size <size>
//	}
func parseCircuits(d *caddyfile.Dispenser) (*CircuitLimits, error) {
	c := &CircuitLimits{}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "max_instructions":
			err = intArg(d, &c.MaxInstructions)
		case "max_expansion":
			err = intArg(d, &c.MaxExpansion)
		case "max_inflated_size":
			c.MaxInflatedSize, err = sizeArg(d)
		default:
			return nil, d.Errf("unrecognized circuits option %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}
