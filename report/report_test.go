package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/org"
)

// quarter is a Q1 of jobs in two projects with estimated and actual
// costs, denials, a budget alert and a configuration change.
func quarter(t *testing.T) Input {
	period, err := ParsePeriod("2026-Q1")
	require.NoError(t, err)
	var recs []audit.Record
	at := func(d int) time.Time { return period.From.Add(time.Duration(d)*24*time.Hour + 10*time.Hour) }
	for d := 0; d < 90; d += 3 {
		for _, p := range []struct{ project, user string }{{"ml", "fatima"}, {"finance", "ravi"}} {
			job := fmt.Sprintf("job-%s-%d", p.project, d)
			recs = append(recs,
				audit.Record{AuditID: "a", Timestamp: at(d), TenantID: "acme", UserID: p.user, Project: p.project, Action: "quantum-computing.job.create",
					UpstreamJobID: job, Outcome: audit.Success, Request: &audit.Request{Backend: "ibm_brisbane", Shots: 4000, EstimatedCostUSD: 1.5}})
			if d < 80 { // the last jobs are not reconciled yet: their estimate counts
				recs = append(recs, audit.Record{AuditID: "b", Timestamp: at(d + 1), TenantID: "acme", UserID: p.user, Project: p.project, Action: audit.ActionJobUsage,
					UpstreamJobID: job, Outcome: audit.Success, Request: &audit.Request{CostUSD: 1 + float64(d%7)/10, QuantumSeconds: 12}})
			}
		}
	}
	recs = append(recs,
		audit.Record{AuditID: "c", Timestamp: at(20), TenantID: "acme", UserID: "rita", Project: "ml", Action: "quantum-computing.job.create",
			Outcome: audit.Denied, Code: "permission_denied", IPAddress: "10.0.0.7", Reasons: []string{"no role grants job:submit"}},
		audit.Record{AuditID: "d", Timestamp: at(40), TenantID: "acme", Project: "ml", Action: audit.ActionBudgetAlert, Category: audit.CategoryBudget,
			Outcome: audit.Success, Reasons: []string{"80% of the ml budget used"}},
		audit.Record{AuditID: "e", Timestamp: at(50), TenantID: "acme", Action: audit.ActionConfigLoad, Category: audit.CategoryAdmin,
			Outcome: audit.Success, Resource: audit.Resource{Type: "assignment", ID: "acme/tom/team_lead/ml"}})
	return Input{Tenant: "acme", Period: period, Records: recs, Now: period.To,
		Users: []UserAccess{{User: "tom", Grants: []org.Grant{{Project: "ml", Role: "team_lead", Via: "team_lead (assignment)", Expires: period.To.Add(24 * time.Hour)}}}},
		Groups: []*org.AccessGroup{{Name: "globex-team", Tenant: "globex", Rules: []org.Rule{{Claim: "team", Operator: "equals", Value: "q"}}, Projects: []string{"q"}, Roles: []string{"admin"}},
			{Name: "project-ml", Tenant: "acme", Rules: []org.Rule{{Claim: "project", Operator: "has_word", Value: "ml"}}, Projects: []string{"ml"}, Roles: []string{"researcher"}}},
		Keys: []Key{{ID: "old-key", Owner: "fatima", Kind: "configured", Created: period.From.AddDate(-1, 0, 0)},
			{ID: "new-key", Owner: "ravi", Kind: "self-service", Created: period.To.Add(-24 * time.Hour)}},
		Trail: &audit.Verification{Files: 1, Records: len(recs), First: 1, Last: uint64(len(recs))}}
}

func TestReports(t *testing.T) {
	tests := []struct {
		kind  string
		check func(t *testing.T, r *Report)
	}{
		{JobSummary, func(t *testing.T, r *Report) {
			assert.Contains(t, r.Facts, Fact{"Job submissions", "61"})
			assert.Equal(t, []string{"finance", "30", "30", "0", "0", "0"}, r.Tables[0].Rows[0])
			assert.Len(t, r.Chart.Labels, 13, "a quarter is charted by week")
		}},
		{BudgetUsage, func(t *testing.T, r *Report) {
			assert.Equal(t, "ml", r.Tables[0].Rows[1][0])
			assert.Equal(t, "$45.00", r.Tables[0].Rows[1][2], "30 jobs estimated at $1.50")
			assert.Equal(t, "$35.00", r.Tables[0].Rows[1][3], "27 jobs reconciled")
			assert.Contains(t, r.Facts, Fact{"Spend in period", "$79.00"}, "actual costs, and estimates of the 3 jobs per project not yet reconciled")
			require.Len(t, r.Tables[1].Rows, 1)
			assert.Len(t, r.Chart.Series, 2)
		}},
		{SecurityEvents, func(t *testing.T, r *Report) {
			assert.Contains(t, r.Facts, Fact{"Denials", "1"})
			assert.Equal(t, []string{"rita", "1"}, r.Tables[1].Rows[0])
		}},
		{AccessReview, func(t *testing.T, r *Report) {
			assert.Equal(t, "team_lead (assignment)", r.Tables[0].Rows[0][3])
			assert.Equal(t, [][]string{{"project-ml", "project has_word ml", "ml", "researcher"}}, r.Tables[1].Rows, "only the tenant's own rules")
			assert.Len(t, r.Tables[2].Rows, 1, "tom's grant expires within 30 days")
			require.Len(t, r.Tables[3].Rows, 1, "a key made yesterday is not dormant")
			assert.Equal(t, "old-key", r.Tables[3].Rows[0][0])
		}},
		{SOC2, func(t *testing.T, r *Report) {
			assert.Equal(t, "CC6.1", r.Tables[0].Rows[0][0])
			assert.Equal(t, "1", r.Tables[0].Rows[0][2], "one denial evidences CC6.1")
			assert.Contains(t, r.Tables[0].Rows[len(soc2Controls)-1][3], "hash chain verified")
		}},
		{ISO27001, func(t *testing.T, r *Report) {
			assert.Equal(t, "A.5.15", r.Tables[0].Rows[0][0])
			assert.Equal(t, "1", r.Tables[0].Rows[2][2], "the assignment change evidences A.5.18")
		}},
	}
	out := os.Getenv("QGOV_REPORT_OUT")
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			in := quarter(t)
			in.Kind = tt.kind
			r, err := Build(in)
			require.NoError(t, err)
			tt.check(t, r)
			for format := range Formats {
				var buf bytes.Buffer
				require.NoError(t, r.Render(&buf, format))
				switch format {
				case "pdf":
					assert.True(t, bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")))
				case "csv":
					cr := csv.NewReader(strings.NewReader(buf.String()))
					cr.FieldsPerRecord = -1 // each table has its own width
					rows, err := cr.ReadAll()
					require.NoError(t, err)
					assert.Contains(t, rows, []string{r.Tables[0].Title})
					assert.Contains(t, rows, r.Tables[0].Columns)
				case "json":
					var back Report
					require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
					assert.Equal(t, r.Tables[0].Rows, back.Tables[0].Rows)
				}
				if out != "" {
					require.NoError(t, os.WriteFile(filepath.Join(out, tt.kind+"."+format), buf.Bytes(), 0o644))
				}
			}
		})
	}
}

func TestReportForAnEmptyPeriodSaysSo(t *testing.T) {
	in := quarter(t)
	in.Kind, in.Records = BudgetUsage, nil
	r, err := Build(in)
	require.NoError(t, err)
	assert.Contains(t, r.Tables[0].Empty, "no spend recorded")
	assert.Contains(t, r.Tables[1].Empty, "nothing recorded in 2026-Q1")
	var buf bytes.Buffer
	require.NoError(t, r.Render(&buf, "pdf"))

	_, err = Build(Input{Kind: "gossip"})
	assert.ErrorContains(t, err, `unknown report type "gossip"`)
	assert.ErrorContains(t, r.Render(&buf, "docx"), `unknown format "docx"`)
}

func TestReportForProjectsLeavesOthersOut(t *testing.T) {
	in := quarter(t)
	in.Kind, in.Projects = JobSummary, []string{"ml"}
	r, err := Build(in)
	require.NoError(t, err)
	require.Len(t, r.Tables[0].Rows, 1)
	assert.Equal(t, "ml", r.Tables[0].Rows[0][0])
	assert.Equal(t, "projects ml", r.Scope)
}

// TestReportCSVRunsNoFormula renders a job summary whose user and
// backend a caller chose as formulas: the CSV holds them as text.
func TestReportCSVRunsNoFormula(t *testing.T) {
	in := quarter(t)
	in.Kind = JobSummary
	in.Records = append(in.Records, audit.Record{AuditID: "f", Timestamp: in.Period.From.Add(time.Hour), TenantID: "acme",
		UserID: "=HYPERLINK(\"http://evil.example\",\"x\")", Project: "ml", Action: "quantum-computing.job.create",
		Outcome: audit.Success, Request: &audit.Request{Backend: "+cmd|'/C evil.example'!A0"}})
	r, err := Build(in)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, r.Render(&buf, "csv"))
	formulas, found := testenv.FormulaCells(t, buf.String(), "evil.example")
	assert.Empty(t, formulas, "cells a spreadsheet runs")
	assert.Equal(t, 2, found, "the user and the backend are in the report, as text")
}
