// Package govcli is the `qgov gov` command line: the governance API's
// objects, keys, approvals and sessions, export and apply, compliance
// reports, and the audit trail's verification and queries. Every command
// that calls a gateway exchanges the qgov API key in QGOV_API_KEY for a
// token, as a Qiskit client does.
package govcli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Help is the `qgov gov` command's long description.
const Help = `
Manages and inspects the governance of a qgov gateway. The commands that
call a running gateway take --url (or QGOV_URL, default
http://127.0.0.1:8080) and a qgov API key in QGOV_API_KEY. Objects are the
fields of the qgov app's JSON config: give them as field=value arguments (a
value that is JSON, such as 5 or ["a","b"], is taken as JSON) or with
-f <file.json|yaml>. Objects declared in configuration are read-only.

Exit status: 0 done, 1 the gateway failed or could not be reached, 2 bad
input (wrong arguments, unknown flags, a request the gateway refused as
invalid), 3 denied, 4 not found, 5 conflict (declared in configuration,
exists, or changed meanwhile), 6 throttled. audit verify, lint and
policies test say what their other statuses mean.`

// ExitError carries a command's exit status to the program's main.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Exit turns a command's exit status and error into what its RunE
// returns; the program's main decides how a status leaves the process.
type Exit func(cmd *cobra.Command, code int, err error) error

// Options are what the program tells the commands about where it runs.
type Options struct {
	// AuditDir is the trail audit verify reads when given none.
	AuditDir string
}

// command is one `qgov gov` subcommand, registered by the file that
// implements it.
type command struct {
	Name, Usage, Short, Long string
	Build                    func(*cobra.Command)
}

// commands are the subcommands, in registration order.
var commands []command

func register(c command) { commands = append(commands, c) }

// options are the Options of the program that attached the commands.
var options Options

// Attach adds the subcommands to gov, with every exit status (usage
// errors included) passed through exit. A subcommand gov already has
// (the program's own, such as policies test) gets the rest of its kind.
func Attach(gov *cobra.Command, opts Options, exit Exit) {
	options = opts
	for _, c := range commands {
		sub := child(gov, c.Name)
		if sub == nil {
			sub = &cobra.Command{}
			gov.AddCommand(sub)
		}
		sub.Use, sub.Short, sub.Long = c.Name+" "+c.Usage, c.Short, c.Long
		c.Build(sub)
	}
	statuses(gov, exit)
}

// child is cmd's subcommand of that name, or nil.
func child(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// statuses routes every command's exit status through exit: a run's own,
// 2 for wrong arguments and unknown flags, and 2 for an unknown
// subcommand of a group.
func statuses(c *cobra.Command, exit Exit) {
	usage := func(cmd *cobra.Command, err error) error {
		return exit(cmd, ExitInvalid, fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath()))
	}
	c.SetFlagErrorFunc(usage)
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usage(cmd, err)
			}
			return nil
		}
	}
	switch run := c.RunE; {
	case run != nil:
		c.RunE = func(cmd *cobra.Command, args []string) error {
			err := run(cmd, args)
			if ee, ok := err.(*ExitError); ok {
				return exit(cmd, ee.Code, ee.Err)
			}
			return err
		}
	case c.HasSubCommands():
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usage(cmd, fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath()))
			}
			return cmd.Help()
		}
	}
	for _, sub := range c.Commands() {
		statuses(sub, exit)
	}
}

// flags reads a command's parsed flags and arguments.
type flags struct{ *pflag.FlagSet }

// String returns a string flag's value.
func (f flags) String(name string) string { v, _ := f.GetString(name); return v }

// Bool returns a boolean flag's value.
func (f flags) Bool(name string) bool { v, _ := f.GetBool(name); return v }

// Int returns an integer flag's value.
func (f flags) Int(name string) int { v, _ := f.GetInt(name); return v }

// Duration returns a duration flag's value.
func (f flags) Duration(name string) time.Duration { v, _ := f.GetDuration(name); return v }

// runs adapts a command function returning an exit status to cobra; it
// writes to the command's output.
func runs(f func(io.Writer, flags) (int, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		return Status(f(cmd.OutOrStdout(), flags{cmd.Flags()}))
	}
}

// Status is what a command's RunE returns for its exit status and error.
func Status(code int, err error) error {
	if code == ExitOK {
		return err
	}
	return &ExitError{Code: code, Err: err}
}
