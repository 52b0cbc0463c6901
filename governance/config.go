// Package governance holds the governance objects: those declared in
// configuration (the Caddyfile, organisation, policy and governance
// files), which stay the source of truth for what they declare, and those
// created at runtime through the governance API, which live in the store
// as numbered revisions shared by every replica.
//
// A change is validated against the whole configuration it would produce
// (declared and live objects together) before it is written, and written
// as one new revision that only one writer can create: two
// administrators cannot overwrite each other, and nothing is half-applied.
package governance

import (
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/policy"
	"github.com/qgov/qgov/quota"
)

// Config is every governance object, in the shape of the qgov app's JSON
// config. A governance file is a Config written as YAML (or JSON); it is
// what `qgov gov export` writes and `qgov gov apply` reads.
type Config struct {
	// Config is the organisation: tenants, instances, projects, roles,
	// access groups and assignments.
	org.Config
	Limits    []quota.Rule      `json:"limits,omitempty"`
	Budgets   []quota.Budget    `json:"budgets,omitempty"`
	Policies  []policy.Policy   `json:"policies,omitempty"`
	Workflows []policy.Workflow `json:"workflows,omitempty"`
}

// Merge appends another configuration's objects to c.
func (c *Config) Merge(o Config) {
	c.Config.Merge(o.Config)
	c.Limits = append(c.Limits, o.Limits...)
	c.Budgets = append(c.Budgets, o.Budgets...)
	c.Policies = append(c.Policies, o.Policies...)
	c.Workflows = append(c.Workflows, o.Workflows...)
}
