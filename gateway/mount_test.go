package gateway_test

import (
	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/govapi"
)

// The tests reach held jobs through the real governance API.
func init() {
	gateway.MountGovernance = func(g *gateway.Gateway) { g.Governance = govapi.New(g, govapi.Config{}) }
}
