// Package report builds qgov's compliance reports from the audit trail
// and the organisation: access_review, budget_usage, job_summary,
// security_events, and the soc2 and iso27001 evidence bundles, each
// rendered as JSON, CSV or PDF.
package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/org"
)

// Kinds of report.
const (
	AccessReview   = "access_review"
	BudgetUsage    = "budget_usage"
	JobSummary     = "job_summary"
	SecurityEvents = "security_events"
	SOC2           = "soc2"
	ISO27001       = "iso27001"
)

// Kinds lists every kind.
var Kinds = []string{AccessReview, BudgetUsage, JobSummary, SecurityEvents, SOC2, ISO27001}

// Report is a built report: facts, tables and at most one chart.
type Report struct {
	Type      string    `json:"report_type"`
	Title     string    `json:"title"`
	Tenant    string    `json:"tenant_id"`
	Period    Period    `json:"period"`
	Generated time.Time `json:"generated"`
	// Scope says what the report covers: the tenant, or some projects.
	Scope  string  `json:"scope"`
	Facts  []Fact  `json:"facts"`
	Chart  *Chart  `json:"chart,omitempty"`
	Tables []Table `json:"tables"`
}

// Fact is one headline figure.
type Fact struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Table is a titled table of strings.
type Table struct {
	Title   string     `json:"title"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	// Empty says why a table has no rows.
	Empty string `json:"empty,omitempty"`
}

// Chart is a bar chart of values per label (a day, a week), one series
// per name, stacked.
type Chart struct {
	Title  string   `json:"title"`
	Unit   string   `json:"unit"`
	Labels []string `json:"labels"`
	Series []Series `json:"series"`
}

// Series is one stacked part of a chart's bars.
type Series struct {
	Name   string    `json:"name"`
	Values []float64 `json:"values"`
}

// Input is what a report is built from.
type Input struct {
	Kind   string
	Tenant string
	Period Period
	// Projects limits the report to these projects; nil covers the
	// tenant.
	Projects []string
	// Records are the tenant's records in the period, oldest first.
	Records []audit.Record
	// Users are the users the organisation names, with their grants
	// now; Groups the access groups (for their dynamic rules).
	Users  []UserAccess
	Groups []*org.AccessGroup
	Keys   []Key
	// Trail is the verification of the trail, when it was run.
	Trail *audit.Verification
	Now   time.Time
}

// UserAccess is one user's roles.
type UserAccess struct {
	User   string
	Grants []org.Grant
}

// Key is an API key as the access review sees it.
type Key struct {
	ID       string
	Owner    string
	Kind     string // "configured" or "self-service"
	Created  time.Time
	Expires  time.Time
	LastUsed time.Time
}

// Build builds a report.
func Build(in Input) (*Report, error) {
	build, ok := builders[in.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown report type %q: use one of %s", in.Kind, strings.Join(Kinds, ", "))
	}
	r := &Report{Type: in.Kind, Tenant: in.Tenant, Period: in.Period, Generated: in.Now.UTC(), Scope: "tenant " + in.Tenant, Tables: []Table{}}
	if in.Projects != nil {
		r.Scope = "projects " + strings.Join(in.Projects, ", ")
		in.Records = slices.DeleteFunc(slices.Clone(in.Records), func(rec audit.Record) bool { return !slices.Contains(in.Projects, rec.Project) })
	}
	build(&in, r)
	for i := range r.Tables {
		if len(r.Tables[i].Rows) == 0 && r.Tables[i].Empty == "" {
			r.Tables[i].Empty = "nothing recorded in " + in.Period.Name
		}
	}
	return r, nil
}

var builders = map[string]func(*Input, *Report){
	AccessReview: accessReview, BudgetUsage: budgetUsage, JobSummary: jobSummary,
	SecurityEvents: securityEvents, SOC2: soc2, ISO27001: iso27001,
}

// counter counts by key and remembers first-seen order.
type counter struct {
	keys []string
	n    map[string]float64
}

func (c *counter) add(key string, v float64) {
	if c.n == nil {
		c.n = map[string]float64{}
	}
	if _, ok := c.n[key]; !ok {
		c.keys = append(c.keys, key)
	}
	c.n[key] += v
}

// sorted returns the keys sorted.
func (c *counter) sorted() []string {
	out := slices.Clone(c.keys)
	slices.Sort(out)
	return out
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func num(v float64) string { return fmt.Sprintf("%g", v) }

func usd(v float64) string { return fmt.Sprintf("$%.2f", v) }

// buckets are the chart's bars: days for periods up to 62 days, else
// weeks starting on Mondays.
func buckets(p Period) (labels []string, index func(time.Time) int) {
	step := 24 * time.Hour
	if p.To.Sub(p.From) > 62*24*time.Hour {
		step = 7 * 24 * time.Hour
	}
	for t := p.From; t.Before(p.To); t = t.Add(step) {
		labels = append(labels, day(t))
	}
	return labels, func(t time.Time) int {
		i := int(t.Sub(p.From) / step)
		return min(max(i, 0), len(labels)-1)
	}
}
