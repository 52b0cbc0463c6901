// Package qgov is qgov's Caddy plugin: importing it registers the qgov
// app, the qgov and qgov_simulator HTTP handlers, their Caddyfile
// directives and the qgov commands. It is what
//
//	xcaddy build --with github.com/qgov/qgov
//
// builds into a Caddy binary; cmd/qgov is the same binary built with the
// go command alone.
package qgov

import (
	// The modules and commands register themselves with Caddy.
	_ "github.com/qgov/qgov/caddymodule"
	// Time zone data, so tenants' local time does not rely on the host.
	_ "time/tzdata"
)
