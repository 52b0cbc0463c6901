package govcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/qgov/qgov/governance"
)

// objectCommands name the kinds the CLI manages, by command.
var objectCommands = []struct{ command, kind, short string }{
	{"tenants", "tenants", "Manages tenants and their settings"},
	{"instances", "instances", "Manages upstream service instances"},
	{"projects", "projects", "Manages projects"},
	{"groups", "access_groups", "Manages access groups"},
	{"roles", "roles", "Manages custom roles, and assigns roles to users"},
	{"assignments", "assignments", "Manages role assignments"},
	{"limits", "limits", "Manages limits of tenants, projects, users and keys"},
	{"budgets", "budgets", "Manages monthly budgets of tenants and projects"},
	{"policies", "policies", "Manages policies"},
	{"workflows", "workflows", "Manages approval workflows"},
}

const governanceHelp = `
Talks to a running gateway's governance API (--url, or QGOV_URL, default
http://127.0.0.1:8080) with a qgov API key in QGOV_API_KEY. Objects are the
fields of the qgov app's JSON config: give them as field=value arguments (a
value that is JSON, such as 5 or ["a","b"], is taken as JSON) or with
-f <file.json|yaml>. Objects declared in configuration are read-only.

Exit status: 0 done, 1 the gateway failed or could not be reached, 2 bad
input, 3 denied, 4 not found, 5 conflict (declared in configuration, exists,
or changed meanwhile), 6 throttled.`

func init() {
	for _, oc := range objectCommands {
		k, _ := governance.KindOf(oc.kind)
		register(command{
			Name: oc.command, Usage: "list | get <name> | create [<name>] [field=value...] | set <name> field=value... | update <name> field=value... | delete <name>",
			Short: oc.short, Long: governanceHelp,
			Build: func(cmd *cobra.Command) { objectCommand(cmd, k) },
		})
	}
	register(command{
		Name: "keys", Usage: "list | create --name <n> [...] | rotate <id> | revoke <id>", Short: "Manages API keys", Long: governanceHelp,
		Build: keysCommand,
	})
	register(command{
		Name: "approvals", Usage: "list | approve <job> [--comment c] | reject <job> --comment c", Short: "Decides jobs held for approval", Long: governanceHelp,
		Build: approvalsCommand,
	})
	register(command{
		Name: "sessions", Usage: "list [--user u] | terminate <id> | terminate-all --user u", Short: "Lists and ends sign-in sessions", Long: governanceHelp,
		Build: sessionsCommand,
	})
	register(command{
		Name: "export", Usage: "[--tenant-id t] [--output file]", Short: "Writes the live governance objects as a governance file", Long: governanceHelp,
		Build: func(cmd *cobra.Command) {
			clientFlags(cmd.Flags())
			cmd.Flags().StringP("output", "o", "", "Write to this file instead of stdout")
			cmd.RunE = remote(func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
				body, err := c.get(ctx, "/governance/v1/export"+tenantQuery(fl, ""), nil)
				if err != nil {
					return err
				}
				if out := fl.String("output"); out != "" {
					return os.WriteFile(out, body, 0o600)
				}
				_, err = w.Write(body)
				return err
			})
		},
	})
	register(command{
		Name: "apply", Usage: "-f <file> [--dry-run] [--prune] [--tenant-id t]", Short: "Makes the live governance objects what a file says", Long: governanceHelp + `

apply puts every object of the file in one revision; --prune also deletes
live objects the file does not hold; --dry-run only prints the differences.`,
		Build: func(cmd *cobra.Command) {
			clientFlags(cmd.Flags())
			cmd.Flags().StringP("file", "f", "", "The governance file")
			cmd.Flags().Bool("dry-run", false, "Only show what would change")
			cmd.Flags().Bool("prune", false, "Also delete live objects the file does not hold")
			cmd.RunE = remote(runApply)
		},
	})
}

// clientFlags are the flags of every command that calls a gateway.
func clientFlags(fs *pflag.FlagSet) {
	fs.String("url", "", "The gateway's base URL (default $"+urlEnv+" or http://127.0.0.1:8080)")
	fs.Bool("json", false, "Print JSON for scripts")
	fs.String("tenant-id", "", "The tenant (default: the caller's; another needs platform:manage)")
	timeoutFlag(fs)
}

// timeoutFlag bounds each request to the gateway.
func timeoutFlag(fs *pflag.FlagSet) {
	fs.Duration("timeout", defaultTimeout, "Give up on a request when the gateway has not begun to answer it after this long")
}

// defaultTimeout is --timeout's default.
const defaultTimeout = 30 * time.Second

// remote wraps a client command: it connects and maps errors to exit
// statuses.
func remote(fn func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return runs(func(_ io.Writer, fl flags) (int, error) {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			c, err := newAPIClient(ctx, fl.String("url"), fl.Duration("timeout"))
			if err != nil {
				return ExitFailed, err
			}
			if err := fn(ctx, c, fl, cmd.OutOrStdout()); err != nil {
				return exitCode(err), err
			}
			return ExitOK, nil
		})(cmd, args)
	}
}

func tenantQuery(fl flags, extra string) string {
	v := url.Values{}
	if t := fl.String("tenant-id"); t != "" {
		v.Set("tenant_id", t)
	}
	if extra != "" {
		extraV, _ := url.ParseQuery(extra)
		for k, vals := range extraV {
			v[k] = vals
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// objectCommand adds list, get, create, set, update and delete of a kind.
func objectCommand(cmd *cobra.Command, k governance.Kind) {
	base := "/governance/v1/" + k.Name()
	sub := func(use, short string, args cobra.PositionalArgs, fn func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error) *cobra.Command {
		return clientCommand(cmd, use, short, args, fn)
	}
	sub("list", "Lists the objects", cobra.NoArgs, func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
		var all []governance.Entry
		for token := ""; ; {
			var page struct {
				Items []governance.Entry `json:"items"`
				Next  string             `json:"next_page_token"`
			}
			extra := "page_size=1000"
			if token != "" {
				extra += "&page_token=" + url.QueryEscape(token)
			}
			if _, err := c.get(ctx, base+tenantQuery(fl, extra), &page); err != nil {
				return err
			}
			all = append(all, page.Items...)
			if token = page.Next; token == "" {
				break
			}
		}
		if fl.Bool("json") {
			return printJSON(w, all)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTENANT\tMANAGED BY\tREVISION\tUPDATED BY\tSOURCE")
		for _, e := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Tenant, e.ManagedBy, revision(e), e.UpdatedBy, e.Source)
		}
		return tw.Flush()
	})
	sub("get <name>", "Prints one object", cobra.ExactArgs(1), func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
		var e governance.Entry
		if _, err := c.get(ctx, base+"/"+url.PathEscape(fl.Arg(0))+tenantQuery(fl, ""), &e); err != nil {
			return err
		}
		return printEntry(w, e, fl.Bool("json"))
	})
	change := func(use, short string, args cobra.PositionalArgs, method string) {
		c := sub(use, short, args, func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
			return changeObject(ctx, c, fl, w, base, method)
		})
		c.Flags().StringP("file", "f", "", "Read the object from a JSON or YAML file")
	}
	change("create [<name>] [field=value...]", "Creates an object", cobra.ArbitraryArgs, http.MethodPost)
	change("set <name> field=value...", "Creates or replaces an object", cobra.MinimumNArgs(1), http.MethodPut)
	change("update <name> field=value...", "Changes fields of an object", cobra.MinimumNArgs(1), http.MethodPatch)
	sub("delete <name>", "Deletes an object", cobra.ExactArgs(1), func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
		return changeObject(ctx, c, fl, w, base, http.MethodDelete)
	})
	if k.Name() == "roles" {
		assign := sub("assign <user> <role>", "Assigns a role to a user", cobra.ExactArgs(2), func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
			a := map[string]any{"user": fl.Arg(0), "role": fl.Arg(1)}
			if p := fl.String("project"); p != "" {
				a["project"] = p
			}
			if e := fl.String("expires"); e != "" {
				a["expires_at"] = e
			}
			body, _ := json.Marshal(a)
			var e governance.Entry
			if _, _, err := c.call(ctx, http.MethodPost, "/governance/v1/assignments"+tenantQuery(fl, ""), body, nil, &e); err != nil {
				return err
			}
			return printEntry(w, e, fl.Bool("json"))
		})
		assign.Flags().String("project", "", "Assign in this project (default: across the tenant)")
		assign.Flags().String("expires", "", "End the assignment at this RFC 3339 time")
		sub("of <user>", "Lists a user's roles", cobra.ExactArgs(1), func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
			var out struct {
				Roles []map[string]any `json:"roles"`
			}
			data, err := c.get(ctx, "/governance/v1/users/"+url.PathEscape(fl.Arg(0))+"/roles"+tenantQuery(fl, ""), &out)
			if err != nil || fl.Bool("json") {
				_, _ = w.Write(data)
				return err
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ROLE\tPROJECT\tVIA\tEXPIRES")
			for _, r := range out.Roles {
				fmt.Fprintf(tw, "%v\t%v\t%v\t%v\n", r["role"], orDash(r["project"]), orDash(r["via"]), orDash(r["expires_at"]))
			}
			return tw.Flush()
		})
	}
}

func orDash(v any) any {
	if v == nil || v == "" {
		return "-"
	}
	return v
}

func revision(e governance.Entry) string {
	if e.ManagedBy == "config" {
		return "-"
	}
	return fmt.Sprint(e.Revision)
}

// changeObject creates, replaces, updates or deletes one object. A
// change of an existing object reads its ETag first and sends it in
// If-Match, so a change made meanwhile is refused, not overwritten.
func changeObject(ctx context.Context, c *apiClient, fl flags, w io.Writer, base, method string) error {
	args := fl.Args()
	name := ""
	if len(args) > 0 && !strings.Contains(args[0], "=") {
		name, args = args[0], args[1:]
	}
	path := base
	create := method == http.MethodPost
	if name != "" {
		path += "/" + url.PathEscape(name)
		if create {
			method = http.MethodPut // a PUT without If-Match only creates
		}
	}
	var body []byte
	if method != http.MethodDelete {
		obj, err := objectArgs(fl.String("file"), args)
		if err != nil {
			return &apiError{Status: http.StatusBadRequest, Code: "invalid_arguments", Message: err.Error()}
		}
		body, _ = json.Marshal(obj)
	}
	header := http.Header{}
	if !create {
		_, h, err := c.call(ctx, http.MethodGet, path+tenantQuery(fl, ""), nil, nil, nil)
		var ae *apiError
		switch {
		case err == nil:
			header.Set("If-Match", h.Get("ETag"))
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound && method == http.MethodPut:
			// absent: PUT without If-Match creates it
		default:
			return err
		}
	}
	var e governance.Entry
	data, _, err := c.call(ctx, method, path+tenantQuery(fl, ""), body, header, &e)
	if err != nil {
		return err
	}
	if method == http.MethodDelete {
		if fl.Bool("json") {
			_, err = w.Write(append(data, '\n'))
			return err
		}
		_, err = fmt.Fprintf(w, "deleted %s\n", name)
		return err
	}
	return printEntry(w, e, fl.Bool("json"))
}

// objectArgs builds an object from a file and field=value arguments.
func objectArgs(file string, args []string) (map[string]any, error) {
	obj := map[string]any{}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if err := yaml.Unmarshal(data, &obj); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not field=value", a)
		}
		var parsed any
		if json.Unmarshal([]byte(v), &parsed) == nil {
			obj[k] = parsed
		} else {
			obj[k] = v
		}
	}
	return obj, nil
}

// printEntry prints an object: as JSON, or its facts and its spec as
// YAML.
func printEntry(w io.Writer, e governance.Entry, asJSON bool) error {
	if asJSON {
		return printJSON(w, e)
	}
	fmt.Fprintf(w, "%s %s", strings.TrimSuffix(e.Kind, "s"), e.Name)
	if e.Tenant != "" {
		fmt.Fprintf(w, " (tenant %s)", e.Tenant)
	}
	if e.ManagedBy == "config" {
		fmt.Fprintf(w, ", declared at %s\n", e.Source)
	} else {
		fmt.Fprintf(w, ", revision %d by %s\n", e.Revision, e.UpdatedBy)
	}
	var spec any
	if err := json.Unmarshal(e.Spec, &spec); err != nil {
		return err
	}
	out, err := yaml.Marshal(spec)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runApply(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
	file := fl.String("file")
	if file == "" {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_arguments", Message: "-f <governance file> is required"}
	}
	body, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	extra := url.Values{"dry_run": {fmt.Sprint(fl.Bool("dry-run"))}, "prune": {fmt.Sprint(fl.Bool("prune"))}}
	var out struct {
		DryRun   bool              `json:"dry_run"`
		Revision int64             `json:"revision"`
		Changes  []governance.Diff `json:"changes"`
	}
	data, _, err := c.call(ctx, http.MethodPost, "/governance/v1/apply"+tenantQuery(fl, extra.Encode()), body,
		http.Header{"Content-Type": {"application/yaml"}}, &out)
	if err != nil {
		return err
	}
	if fl.Bool("json") {
		_, err = w.Write(append(data, '\n'))
		return err
	}
	for _, d := range out.Changes {
		sign := map[string]string{"create": "+", "update": "~", "delete": "-"}[d.Op]
		fmt.Fprintf(w, "%s %s %s %s\n", sign, strings.TrimSuffix(d.Kind, "s"), d.Name, changedFields(d))
	}
	switch {
	case len(out.Changes) == 0:
		fmt.Fprintln(w, "no changes: the gateway already holds what the file says")
	case out.DryRun:
		fmt.Fprintf(w, "%d changes (dry run: nothing was applied)\n", len(out.Changes))
	default:
		fmt.Fprintf(w, "%d changes applied in revision %d\n", len(out.Changes), out.Revision)
	}
	return nil
}

// changedFields names the fields an update changes.
func changedFields(d governance.Diff) string {
	if d.Op != "update" {
		return ""
	}
	var before, after map[string]any
	_ = json.Unmarshal(d.Before, &before)
	_ = json.Unmarshal(d.After, &after)
	var out []string
	for k, v := range after {
		if b, _ := json.Marshal(before[k]); string(b) != mustJSON(v) {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k)
		}
	}
	return "(" + strings.Join(out, ", ") + ")"
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
