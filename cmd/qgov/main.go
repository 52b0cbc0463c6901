// Command qgov is a Caddy binary that carries the standard modules plus
// qgov's own: the governance gateway for the Qiskit Runtime API and the
// bundled Runtime API simulator.
package main

import (
	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// Caddy's standard modules.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	// qgov's modules and commands.
	_ "github.com/qgov/qgov"
)

func main() {
	caddy.CustomBinaryName = "qgov"
	caddy.CustomLongDescription = `qgov is Caddy with a governance gateway for the Qiskit Runtime API and a
bundled Runtime API simulator. Run the demo with:

	$ qgov run --config Caddyfile.example

Manage a running gateway's governance with the qgov gov commands, and run
the simulator on its own with qgov simulator. Caddy's own commands work as
they do in Caddy.`
	caddycmd.Main()
}
