// Command qgov is a Caddy binary that carries the standard modules plus
// qgov's own: the governance gateway for the Qiskit Runtime API and the
// bundled Runtime API simulator.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// Caddy's standard modules.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	// qgov's modules and commands.
	_ "github.com/qgov/qgov"
)

func main() {
	caddycmd.Main()
}
