package govcli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// clientCommand adds a subcommand that calls the gateway.
func clientCommand(parent *cobra.Command, use, short string, args cobra.PositionalArgs,
	fn func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: args, RunE: remote(fn)}
	clientFlags(c.Flags())
	parent.AddCommand(c)
	return c
}

// answer prints a JSON answer raw with --json, else through show.
func answer(w io.Writer, fl flags, data []byte, show func() error) error {
	if fl.Bool("json") {
		_, err := w.Write(append(data, '\n'))
		return err
	}
	return show()
}

func userQuery(fl flags) string {
	if u := fl.String("user"); u != "" {
		return "?user=" + url.QueryEscape(u)
	}
	return ""
}

func keysCommand(cmd *cobra.Command) {
	list := clientCommand(cmd, "list", "Lists API keys with their last use", cobra.NoArgs, func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
		var out struct {
			Keys []map[string]any `json:"keys"`
		}
		data, err := c.get(ctx, "/governance/v1/keys"+userQuery(fl), &out)
		if err != nil {
			return err
		}
		return answer(w, fl, data, func() error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tOWNER\tEXPIRES\tLAST USED")
			for _, k := range out.Keys {
				fmt.Fprintf(tw, "%v\t%v\t%v\t%v\t%v\n", k["id"], k["name"], k["owner"], orDash(k["expires"]), orDash(k["last_used"]))
			}
			return tw.Flush()
		})
	})
	list.Flags().String("user", "", "Another user's keys (user:manage)")
	create := clientCommand(cmd, "create", "Creates an API key; its secret is printed once", cobra.NoArgs, func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
		req := map[string]any{"name": fl.String("name")}
		for flag, field := range map[string]string{"user": "user", "tenant-id": "tenant_id", "expires": "expires_at"} {
			if v := fl.String(flag); v != "" {
				req[field] = v
			}
		}
		for flag, field := range map[string]string{"scopes": "scopes", "projects": "projects", "allowed-ips": "allowed_ips"} {
			if v := fl.String(flag); v != "" {
				req[field] = strings.Split(v, ",")
			}
		}
		if n := fl.Int("rate-limit"); n > 0 {
			req["rate_limit"] = n
		}
		return keyAnswer(ctx, c, fl, w, http.MethodPost, "/governance/v1/keys", req)
	})
	create.Flags().String("name", "", "What the key is for")
	create.Flags().String("user", "", "Create it for another user (user:manage)")
	create.Flags().String("scopes", "", "Comma-separated actions the key may use (default: all its owner's)")
	create.Flags().String("projects", "", "Comma-separated projects the key reaches")
	create.Flags().String("expires", "", "Expiry, RFC 3339 (default 90 days)")
	create.Flags().String("allowed-ips", "", "Comma-separated CIDRs the key may be used from")
	create.Flags().Int("rate-limit", 0, "Requests per minute")
	clientCommand(cmd, "rotate <id>", "Gives a key a new secret", cobra.ExactArgs(1), func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
		return keyAnswer(ctx, c, fl, w, http.MethodPost, "/governance/v1/keys/"+url.PathEscape(fl.Arg(0))+"/rotate", nil)
	})
	clientCommand(cmd, "revoke <id>", "Revokes a key", cobra.ExactArgs(1), func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
		data, _, err := c.call(ctx, http.MethodDelete, "/governance/v1/keys/"+url.PathEscape(fl.Arg(0)), nil, nil, nil)
		if err != nil {
			return err
		}
		return answer(w, fl, data, func() error { _, err := fmt.Fprintf(w, "revoked %s\n", fl.Arg(0)); return err })
	})
}

// keyAnswer sends a key request and prints the key with its secret.
func keyAnswer(ctx context.Context, c *apiClient, fl flags, w io.Writer, method, path string, req any) error {
	var body []byte
	if req != nil {
		body, _ = json.Marshal(req)
	}
	var k map[string]any
	data, _, err := c.call(ctx, method, path, body, nil, &k)
	if err != nil {
		return err
	}
	return answer(w, fl, data, func() error {
		_, err := fmt.Fprintf(w, "key %v (%v) of %v, expires %v\nsecret: %v\nStore the secret now: it is shown only once.\n", k["id"], k["name"], k["owner"], k["expires"], k["key"])
		return err
	})
}

func approvalsCommand(cmd *cobra.Command) {
	clientCommand(cmd, "list", "Lists held jobs you may decide or submitted", cobra.NoArgs, func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
		var out struct {
			Approvals []approvalRow `json:"approvals"`
		}
		data, err := c.get(ctx, "/governance/v1/approvals", &out)
		if err != nil {
			return err
		}
		return answer(w, fl, data, func() error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tSUBMITTER\tPROJECT\tBACKEND\tCOST USD\tWAITING FOR\tDECIDE BY")
			for _, a := range out.Approvals {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%s\t%s\n", a.JobID, a.Submitter, a.Project, a.Backend, a.EstimatedCostUSD,
					strings.Join(a.Pending, ","), a.DecideBy)
			}
			return tw.Flush()
		})
	})
	for _, decision := range []string{"approve", "reject"} {
		c := clientCommand(cmd, decision+" <job>", strings.ToUpper(decision[:1])+decision[1:]+"s a held job", cobra.ExactArgs(1),
			func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
				body, _ := json.Marshal(map[string]string{"decision": decision, "comment": fl.String("comment")})
				var a approvalRow
				data, _, err := c.call(ctx, http.MethodPost, "/governance/v1/approvals/"+url.PathEscape(fl.Arg(0)), body, nil, &a)
				if err != nil {
					return err
				}
				return answer(w, fl, data, func() error {
					_, err := fmt.Fprintf(w, "%s: %s\n", a.JobID, a.Status)
					return err
				})
			})
		c.Flags().String("comment", "", "Why; a rejection's comment becomes the job's reason")
	}
}

// approvalRow is what the approvals commands print of a hold.
type approvalRow struct {
	JobID            string   `json:"job_id"`
	Status           string   `json:"status"`
	Submitter        string   `json:"submitter"`
	Project          string   `json:"project"`
	Backend          string   `json:"backend"`
	EstimatedCostUSD float64  `json:"estimated_cost_usd"`
	Pending          []string `json:"pending_workflows"`
	DecideBy         string   `json:"decide_by"`
}

func sessionsCommand(cmd *cobra.Command) {
	list := clientCommand(cmd, "list", "Lists sign-in sessions", cobra.NoArgs, func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
		var out struct {
			Sessions []map[string]any `json:"sessions"`
		}
		data, err := c.get(ctx, "/governance/v1/sessions"+userQuery(fl), &out)
		if err != nil {
			return err
		}
		return answer(w, fl, data, func() error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tCREATED\tLAST SEEN\tIP")
			for _, s := range out.Sessions {
				fmt.Fprintf(tw, "%v\t%v\t%v\t%v\t%v\n", s["id"], s["user"], orDash(s["created"]), orDash(s["last_seen"]), orDash(s["ip"]))
			}
			return tw.Flush()
		})
	})
	list.Flags().String("user", "", "Another user's sessions (user:manage)")
	clientCommand(cmd, "terminate <id>", "Ends a session", cobra.ExactArgs(1), func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
		data, _, err := c.call(ctx, http.MethodDelete, "/governance/v1/sessions/"+url.PathEscape(fl.Arg(0)), nil, nil, nil)
		if err != nil {
			return err
		}
		return answer(w, fl, data, func() error { _, err := fmt.Fprintf(w, "ended %s\n", fl.Arg(0)); return err })
	})
	all := clientCommand(cmd, "terminate-all", "Ends every session of a user and their tokens", cobra.NoArgs, func(ctx context.Context, c *apiClient, fl flags, w io.Writer) error {
		data, _, err := c.call(ctx, http.MethodDelete, "/governance/v1/sessions"+userQuery(fl), nil, nil, nil)
		if err != nil {
			return err
		}
		return answer(w, fl, data, func() error { _, err := fmt.Fprintf(w, "%s\n", data); return err })
	})
	all.Flags().String("user", "", "The user (default: you)")
}
