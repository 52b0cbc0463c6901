package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/qgov/qgov/govcli"
	"github.com/qgov/qgov/policy"
)

// Exit statuses of qgov gov policies test beyond 0 (allowed) and 1 (error).
const (
	exitBlocked = 3
	exitHeld    = 4
)

// policyTestCommand is qgov gov policies test.
func policyTestCommand() *cobra.Command {
	test := &cobra.Command{Use: "test --config <file> --request <sample.json> [--json]", Short: "Evaluates a config's policies against a sample request",
		Long: `
test loads a config's policies and workflows (compiling them as the
gateway does) and evaluates them against a sample request: a JSON object
with the fields conditions read, for example

  {"user": "fatima", "roles": ["researcher"], "tenant": "default",
   "project": "ml", "action": "quantum-computing.job.create",
   "backend": "ibm_qgov_eagle", "shots": 60000, "estimated_cost_usd": 12.5,
   "tags": {"experiment": "vqe"}, "day_of_week": "Saturday", "hour": 10}

(action defaults to quantum-computing.job.create, remaining_budget_usd to -1.)
It prints each policy's and workflow's decision, then the outcome.

Exit status: 0 allowed (possibly modified), 1 the config or the sample is
invalid, 2 wrong arguments, 3 blocked or refused by an evaluation error,
4 held for approval.`,
		Args: cobra.NoArgs,
	}
	test.RunE = func(c *cobra.Command, _ []string) error {
		return govcli.Status(runPolicyTest(c.OutOrStdout(), caddycmd.Flags{FlagSet: c.Flags()}))
	}
	policyTestFlags(test.Flags())
	return test
}

// policyDecision is one rule's decision in qgov gov policies test's output.
type policyDecision struct {
	Rule     string `json:"rule"`
	Mode     string `json:"mode"`
	Action   string `json:"action"`
	Matched  bool   `json:"matched"`
	Decision string `json:"decision"`
}

func policyTestFlags(fs *pflag.FlagSet) {
	fs.StringP("config", "c", "Caddyfile", "The configuration file")
	fs.StringP("adapter", "a", "caddyfile", "The config adapter (empty for JSON)")
	fs.StringP("request", "r", "", "The sample request (JSON)")
	fs.Bool("json", false, "Print the decisions as JSON")
}

func runPolicyTest(w io.Writer, fl caddycmd.Flags) (int, error) {
	raw, _, _, err := caddycmd.LoadConfig(fl.String("config"), fl.String("adapter"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	var cfg struct {
		Apps struct {
			Qgov *App `json:"qgov"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("reading the config: %w", err)
	}
	if cfg.Apps.Qgov == nil {
		return caddy.ExitCodeFailedStartup, errors.New("the config has no qgov app (global option qgov { … })")
	}
	set, err := policy.Compile(cfg.Apps.Qgov.Policies, cfg.Apps.Qgov.Workflows)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	sample, err := os.ReadFile(fl.String("request"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("reading the sample request: %w", err)
	}
	env := policy.Env{Action: "quantum-computing.job.create", RemainingBudgetUSD: -1, Priority: "normal"}
	dec := json.NewDecoder(strings.NewReader(string(sample)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("reading the sample request: %w", err)
	}
	if env.Tags == nil {
		env.Tags = map[string]any{}
	}
	r := set.Evaluate(&env)
	decisions, outcome, code := explain(set, r)
	if fl.Bool("json") {
		err = json.NewEncoder(w).Encode(map[string]any{"decisions": decisions, "outcome": outcome})
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RULE\tMODE\tACTION\tMATCHED\tDECISION")
		for _, d := range decisions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", d.Rule, d.Mode, d.Action, d.Matched, d.Decision)
		}
		_ = tw.Flush()
		fmt.Fprintln(w, "outcome:", outcome)
	}
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	return code, nil
}

// explain turns a result into one decision per rule, the outcome and
// the exit status.
func explain(set *policy.Set, r policy.Result) ([]policyDecision, string, int) {
	matched := map[string]bool{}
	for _, m := range r.Matched {
		matched[m.Name()] = true
	}
	var out []policyDecision
	for _, p := range set.Policies() {
		d := policyDecision{Rule: "policy/" + p.Name, Mode: p.Mode, Action: p.Action, Matched: matched["policy/"+p.Name], Decision: "no match"}
		switch {
		case !p.On():
			d.Decision = "disabled"
		case r.Err != nil && r.Err.Rule == d.Rule:
			d.Decision = "error: " + r.Err.Err.Error()
		case d.Matched && p.Mode == policy.ModeAudit:
			d.Decision = "would " + p.Action + " (audit mode)"
		case d.Matched && p.Action == policy.ActionBlock:
			d.Decision = "block: " + p.Message
		case d.Matched && p.Action == policy.ActionModify:
			d.Decision = fmt.Sprintf("modify %v", p.Modifications)
		case d.Matched && p.Action == policy.ActionNotify:
			d.Decision = fmt.Sprintf("notify %v", p.Notify)
		case d.Matched:
			d.Decision = "require approval: workflow " + p.Workflow
		}
		out = append(out, d)
	}
	for _, w := range set.Workflows() {
		if w.Trigger.Condition == "" {
			continue
		}
		d := policyDecision{Rule: "workflow/" + w.Name, Mode: policy.ModeEnforce, Action: policy.ActionRequireApproval, Matched: matched["workflow/"+w.Name], Decision: "no match"}
		if d.Matched {
			d.Decision = "hold for approval"
		}
		if r.Err != nil && r.Err.Rule == d.Rule {
			d.Decision = "error: " + r.Err.Err.Error()
		}
		out = append(out, d)
	}
	switch {
	case r.Err != nil:
		return out, "refused: " + r.Err.Error(), exitBlocked
	case r.Block != nil:
		return out, "blocked by policy " + r.Block.Name, exitBlocked
	case len(r.Workflows) > 0:
		names := make([]string, len(r.Workflows))
		for i, w := range r.Workflows {
			names[i] = w.Name
		}
		return out, "held for approval: " + strings.Join(names, ", "), exitHeld
	case len(r.Modifications) > 0:
		return out, fmt.Sprintf("allowed, modified %v", r.Modifications), 0
	}
	return out, "allowed", 0
}
