package govcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/qgov/qgov/audit"
)

// Exit statuses of qgov gov audit verify.
const (
	exitTampered   = 1
	exitUnverified = 2
)

// apiKeyEnv names the environment variable holding the qgov API key the
// commands use against a running gateway.
const apiKeyEnv = "QGOV_API_KEY"

func init() {
	register(command{
		Name:  "audit",
		Usage: "verify [<dir>] | query [flags]",
		Short: "Verifies and queries the audit trail",
		Long: `
verify reads every file of a trail (default: qgov/audit in Caddy's data
directory) and checks each record's SHA-256 hash, the sequence and the links
between records across files. It names each edited, removed, inserted or
reordered record by file and line; it never changes a file. Exit status: 0
when intact, 1 when the trail was tampered with, 2 when it cannot be read.

query prints records matching filters, oldest first: from a trail directory
(--dir), or from a running gateway (--url, with a qgov API key in
QGOV_API_KEY whose owner holds audit:view; the answer covers their tenant).`,
		Build: func(cmd *cobra.Command) {
			verify := &cobra.Command{Use: "verify [<dir>]", Short: "Verifies the trail's hash chain", Args: cobra.MaximumNArgs(1),
				RunE: runs(runVerify)}
			verifyFlags(verify.Flags())
			query := &cobra.Command{Use: "query", Short: "Prints records matching filters",
				RunE: runs(runQuery)}
			queryFlags(query.Flags())
			cmd.AddCommand(verify, query)
		},
	})
	register(command{
		Name:  "report",
		Usage: "--url <gateway> --type <type> --period <period> [--format json|csv|pdf] [--output <file>]",
		Short: "Downloads a compliance report from a running gateway",
		Long: `
Asks a running gateway for a report of the caller's tenant, with a qgov API
key in QGOV_API_KEY. Types: access_review, budget_usage, job_summary,
security_events, soc2, iso27001. Periods: 2026-Q1, 2026-03, 2026, 2026-03-15
or 2026-01-01..2026-02-15. Without --output the report goes to stdout.`,
		Build: func(cmd *cobra.Command) {
			reportFlags(cmd.Flags())
			cmd.RunE = runs(runReport)
		},
	})
}

// filterFlags are the query filters, named as the governance API names
// them with dashes.
var filterFlags = []string{"tenant_id", "start_date", "end_date", "actions", "users", "outcomes", "categories", "projects", "resource_type", "resource_id"}

func verifyFlags(fs *pflag.FlagSet) {
	fs.Bool("json", false, "Print the verification as JSON")
}

func queryFlags(fs *pflag.FlagSet) {
	fs.String("dir", "", "A trail directory to read")
	fs.String("url", "", "A running gateway's base URL (key in "+apiKeyEnv+")")
	timeoutFlag(fs)
	for _, f := range filterFlags {
		fs.String(strings.ReplaceAll(f, "_", "-"), "", "Filter: "+f)
	}
	fs.Int("limit", 0, "Print at most this many records (0: all)")
	fs.Bool("json", false, "Print JSON lines")
}

func reportFlags(fs *pflag.FlagSet) {
	fs.String("url", "", "The gateway's base URL")
	timeoutFlag(fs)
	fs.String("type", "", "The report type")
	fs.String("period", "", "The period")
	fs.String("format", "json", "json, csv or pdf")
	fs.StringP("output", "o", "", "Write the report to this file")
	fs.Bool("progress", false, "Draw a progress bar on stderr (default: when writing to a file from a terminal)")
}

func runVerify(w io.Writer, fl flags) (int, error) {
	dir := fl.Arg(0)
	if dir == "" {
		dir = options.AuditDir
	}
	v, err := audit.Verify(dir)
	if err != nil {
		return exitUnverified, err
	}
	if fl.Bool("json") {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return exitUnverified, err
		}
	} else {
		for _, p := range v.Problems {
			fmt.Fprintln(w, p)
		}
		for _, p := range v.Warnings {
			fmt.Fprintln(w, "warning:", p)
		}
		state := "intact"
		if !v.OK() {
			state = fmt.Sprintf("TAMPERED (%d problems)", len(v.Problems))
		}
		fmt.Fprintf(w, "%s: %d records in %d files, seq %d to %d, head %s: %s\n", dir, v.Records, v.Files, v.First, v.Last, v.Head, state)
	}
	if !v.OK() {
		return exitTampered, nil
	}
	return ExitOK, nil
}

// queryParams are the query's filters as the governance API reads them.
func queryParams(fl flags) url.Values {
	v := url.Values{}
	for _, f := range filterFlags {
		if s := fl.String(strings.ReplaceAll(f, "_", "-")); s != "" {
			v.Set(f, s)
		}
	}
	return v
}

func runQuery(w io.Writer, fl flags) (int, error) {
	ctx := context.Background()
	params := queryParams(fl)
	limit := fl.Int("limit")
	var next func(token string) (audit.Page, error)
	switch dir, base := fl.String("dir"), fl.String("url"); {
	case dir != "" && base == "":
		f, err := audit.ParseFilter(params)
		if err != nil {
			return ExitFailed, err
		}
		f.Tenant = params.Get("tenant_id")
		next = func(token string) (audit.Page, error) {
			return audit.FileSource{Dir: dir}.Query(ctx, f, token, audit.MaxPageSize)
		}
	case base != "" && dir == "":
		api, err := newAPIClient(ctx, base, fl.Duration("timeout"))
		if err != nil {
			return ExitFailed, err
		}
		next = func(token string) (audit.Page, error) {
			p := url.Values{}
			for k, v := range params {
				p[k] = v
			}
			p.Set("page_size", fmt.Sprint(audit.MaxPageSize))
			if token != "" {
				p.Set("page_token", token)
			}
			var page audit.Page
			_, err := api.get(ctx, "/governance/v1/audit/logs?"+p.Encode(), &page)
			return page, err
		}
	default:
		return ExitFailed, errors.New("give either --dir <trail directory> or --url <gateway>")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	asJSON := fl.Bool("json")
	if !asJSON {
		fmt.Fprintln(tw, "TIME\tTENANT\tUSER\tACTION\tOUTCOME\tCODE\tRESOURCE\tAUDIT ID")
	}
	n := 0
	for token := ""; ; {
		page, err := next(token)
		if err != nil {
			return ExitFailed, err
		}
		for _, r := range page.Logs {
			if limit > 0 && n == limit {
				return ExitOK, tw.Flush()
			}
			n++
			if asJSON {
				b, _ := json.Marshal(r)
				fmt.Fprintln(w, string(b))
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Timestamp.Format(time.RFC3339), r.TenantID, r.UserID, r.Action,
				r.Outcome, r.Code, strings.Trim(r.Resource.Type+"/"+r.Resource.ID, "/"), r.AuditID)
		}
		if token = page.NextPageToken; token == "" {
			return ExitOK, tw.Flush()
		}
	}
}

func runReport(w io.Writer, fl flags) (int, error) {
	ctx := context.Background()
	kind, period := fl.String("type"), fl.String("period")
	if kind == "" || period == "" {
		return ExitInvalid, errors.New("--type and --period are required")
	}
	api, err := newAPIClient(ctx, fl.String("url"), fl.Duration("timeout"))
	if err != nil {
		return ExitFailed, err
	}
	if fl.Bool("progress") || fl.String("output") != "" && isTerminal(os.Stderr) {
		api.progress = progressBar(os.Stderr, kind+" "+period)
	}
	q := url.Values{"period": {period}, "format": {fl.String("format")}}
	body, err := api.get(ctx, "/governance/v1/reports/"+url.PathEscape(kind)+"?"+q.Encode(), nil)
	if err != nil {
		return exitCode(err), err
	}
	if out := fl.String("output"); out != "" {
		if err := os.WriteFile(out, body, 0o600); err != nil {
			return ExitFailed, fmt.Errorf("writing the report: %w", err)
		}
		fmt.Fprintf(w, "wrote %s (%d bytes)\n", out, len(body))
		return ExitOK, nil
	}
	_, err = w.Write(body)
	return ExitOK, err
}
