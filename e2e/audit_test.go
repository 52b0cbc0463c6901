package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/qiskitclient"
)

// globexOptions add a second tenant with its own administrator.
const globexOptions = `
		tenant globex
		api_key demo-hans {
			key hans-secret-key-0123456789
			user hans
			name "Hans"
			tenant globex
		}
		assign hans admin tenant globex
`

// startAuditDemo runs the demo with its trail in a directory of the test.
func startAuditDemo(t *testing.T) (*demo, string) {
	dir := t.TempDir()
	return startDemoEdited(t, func(cfg string) string {
		own := fmt.Sprintf("audit {\n\t\t\tdir %s\n\t\t\tlog\n", dir)
		return replaceOnce(t, replaceOnce(t, cfg, "audit {\n", own), "\tqgov {\n", "\tqgov {\n"+globexOptions)
	}), dir
}

// governance calls the governance API with an API key.
func (d *demo) governance(t *testing.T, key, path string) (int, []byte) {
	c := &qiskitclient.Client{BaseURL: d.gateway, APIKey: key}
	token, err := c.Token(context.Background())
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, d.gateway+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

// logs queries the trail as the demo administrator.
func (d *demo) logs(t *testing.T, query string) []audit.Record {
	status, body := d.governance(t, "demo-admin-key", "/governance/v1/audit/logs?page_size=1000&"+query)
	require.Equal(t, http.StatusOK, status, "%s", body)
	var page struct {
		Logs []audit.Record `json:"logs"`
	}
	require.NoError(t, json.Unmarshal(body, &page))
	return page.Logs
}

// trace is the trace of a refusal's error body.
func trace(t *testing.T, err error) string {
	var e *qiskitclient.Error
	require.True(t, errors.As(err, &e), "want a refusal, got %v", err)
	var b runtimeapi.ErrorBody
	require.NoError(t, json.Unmarshal(e.Body, &b))
	return b.Trace
}

// TestAuditTrailOfTheDemoScenario drives the demo scenario's outcomes
// through a real qgov and finds exactly one record for each, naming the
// initiator as IBM's Activity Tracker does.
func TestAuditTrailOfTheDemoScenario(t *testing.T) {
	d, dir := startAuditDemo(t)
	ctx := context.Background()

	fatima := d.client("demo-fatima-key", "QR-ml")
	job, err := fatima.Submit(ctx, bellJob())
	require.NoError(t, err)
	_, err = d.client("demo-fatima-key", "QR-finance").Submit(ctx, bellJob())
	notHers := trace(t, err)
	_, err = d.client("demo-ravi-key", "QR-ml").Job(ctx, job.ID)
	ravisPeek := trace(t, err)
	status, body, err := d.client("demo-rita-key", "QR-ml").Do(ctx, http.MethodPost, "/jobs/"+job.ID+"/cancel", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, status, "%s", body)
	var ritaErr runtimeapi.ErrorBody
	require.NoError(t, json.Unmarshal(body, &ritaErr))
	_, err = d.client("not-a-key", "QR-ml").Submit(ctx, bellJob())
	require.Error(t, err)

	tests := []struct {
		name, query           string
		user, authnName, code string
		outcome, action       string
		check                 func(t *testing.T, r audit.Record)
	}{
		{name: "job submitted", query: "actions=job:submit&outcomes=success&users=fatima", user: "fatima", authnName: "Fatima",
			outcome: audit.Success, action: "quantum-computing.job.create", check: func(t *testing.T, r audit.Record) {
				assert.Equal(t, job.ID, r.UpstreamJobID)
				assert.Equal(t, audit.Resource{Type: "quantum_job", ID: job.ID}, r.Resource)
				assert.Equal(t, "ml", r.Project)
				assert.Equal(t, "QR-ml", r.Instance)
				assert.Equal(t, "qgov_simulator", r.Request.Backend)
				assert.Equal(t, 64, r.Request.Shots, "one pub of 64 shots")
				assert.Equal(t, 1, r.Request.Pubs)
				assert.Equal(t, "demo-fatima", r.KeyID)
				assert.Equal(t, "127.0.0.1", r.IPAddress)
				assert.NotEmpty(t, r.UserAgent)
			}},
		{name: "another project's instance", query: "actions=job:submit&outcomes=denied&users=fatima", user: "fatima", authnName: "Fatima",
			outcome: audit.Denied, action: "quantum-computing.job.create", code: "instance_not_accessible", check: func(t *testing.T, r audit.Record) {
				assert.Equal(t, notHers, r.TraceID, "the trace the client saw")
				assert.Contains(t, r.Reasons[0], "qr-finance")
			}},
		{name: "a colleague's job", query: "users=ravi&outcomes=denied", user: "ravi", authnName: "Ravi",
			outcome: audit.Denied, action: "quantum-computing.job.read", code: "instance_not_accessible", check: func(t *testing.T, r audit.Record) {
				assert.Equal(t, ravisPeek, r.TraceID)
				assert.Equal(t, job.ID, r.Resource.ID)
			}},
		{name: "a reader cancels", query: "users=rita&actions=job:cancel", user: "rita", authnName: "Rita",
			outcome: audit.Denied, action: "quantum-computing.job.cancel", code: "permission_denied", check: func(t *testing.T, r audit.Record) {
				assert.Equal(t, ritaErr.Trace, r.TraceID)
				assert.Equal(t, job.ID, r.Resource.ID)
			}},
		{name: "an unknown key", query: "actions=iam.token&outcomes=denied", outcome: audit.Denied, action: "iam.token", code: "BXNIM0415E",
			check: func(t *testing.T, r audit.Record) { assert.Empty(t, r.TenantID) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := d.logs(t, tt.query)
			if tt.user == "" { // unauthenticated: only the file holds it
				recs = fileRecords(t, dir, audit.Filter{Actions: []string{tt.action}, Outcomes: []string{tt.outcome}})
			}
			require.Len(t, recs, 1, "one record per outcome: %+v", recs)
			r := recs[0]
			assert.Equal(t, tt.outcome, r.Outcome)
			assert.Equal(t, tt.action, r.Action)
			assert.Equal(t, tt.code, r.Code)
			assert.Equal(t, tt.user, r.UserID)
			assert.Equal(t, tt.user, r.InitiatorAuthnID)
			assert.Equal(t, tt.authnName, r.InitiatorAuthnName)
			assert.Regexp(t, `^audit-\d{8}-[0-9a-f]{16}$`, r.AuditID)
			tt.check(t, r)
		})
	}

	t.Run("no secret in the trail", func(t *testing.T) {
		raw := readTrail(t, dir)
		for _, secret := range []string{"demo-fatima-key", "not-a-key", "Bearer ", "hans-secret-key", "demo-upstream-key"} {
			assert.NotContains(t, raw, secret)
		}
	})
	t.Run("configuration changes with before and after", func(t *testing.T) {
		status, body := d.governance(t, "hans-secret-key-0123456789", "/governance/v1/audit/logs?actions=config:change&resource_type=tenant")
		require.Equal(t, http.StatusOK, status, "%s", body)
		var page struct {
			Logs []audit.Record `json:"logs"`
		}
		require.NoError(t, json.Unmarshal(body, &page))
		require.Len(t, page.Logs, 1, "the new tenant, in its own trail")
		r := page.Logs[0]
		assert.Equal(t, "configuration", r.InitiatorAuthnName)
		assert.Equal(t, audit.Resource{Type: "tenant", ID: "globex"}, r.Resource)
		assert.Nil(t, r.Before)
		assert.JSONEq(t, `{"name":"globex"}`, string(r.After))
		assert.NotContains(t, readTrail(t, dir), `"api_key":"`)
	})
	t.Run("verify", func(t *testing.T) {
		status, body := d.governance(t, "demo-admin-key", "/governance/v1/audit/verify")
		require.Equal(t, http.StatusOK, status, "%s", body)
		assert.Contains(t, string(body), `"ok":true`)
	})
}

// fileRecords reads the trail's files directly.
func fileRecords(t *testing.T, dir string, f audit.Filter) []audit.Record {
	page, err := audit.FileSource{Dir: dir}.Query(context.Background(), f, "", audit.MaxPageSize)
	require.NoError(t, err)
	return page.Logs
}

func readTrail(t *testing.T, dir string) string {
	files, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	require.NoError(t, err)
	var b strings.Builder
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		b.Write(raw)
	}
	return b.String()
}

// TestAuditQueriesStayInTheirTenant shows that one tenant's administrator
// cannot read another tenant's trail, and that bad queries are refused.
func TestAuditQueriesStayInTheirTenant(t *testing.T) {
	d, _ := startAuditDemo(t)
	_, err := d.client("demo-fatima-key", "QR-ml").Submit(context.Background(), bellJob())
	require.NoError(t, err)

	status, body := d.governance(t, "hans-secret-key-0123456789", "/governance/v1/audit/logs?page_size=1000")
	require.Equal(t, http.StatusOK, status, "%s", body)
	var page struct {
		TenantID string         `json:"tenant_id"`
		Logs     []audit.Record `json:"logs"`
	}
	require.NoError(t, json.Unmarshal(body, &page))
	assert.Equal(t, "globex", page.TenantID)
	require.NotEmpty(t, page.Logs, "hans sees his own tenant's records")
	for _, r := range page.Logs {
		assert.Equal(t, "globex", r.TenantID, "a record of another tenant: %+v", r)
	}

	tests := []struct {
		key, path string
		status    int
		code      string
	}{
		{"hans-secret-key-0123456789", "/governance/v1/audit/logs?tenant_id=default", http.StatusForbidden, "tenant_not_accessible"},
		{"demo-fatima-key", "/governance/v1/audit/logs", http.StatusForbidden, "permission_denied"},
		{"demo-admin-key", "/governance/v1/audit/logs?start_date=2026-02-01&end_date=2026-01-01", http.StatusBadRequest, "invalid_query"},
		{"demo-admin-key", "/governance/v1/audit/logs?actions=job:launch", http.StatusBadRequest, "invalid_query"},
		{"demo-admin-key", "/governance/v1/audit/logs?format=xml", http.StatusBadRequest, "invalid_format"},
		{"hans-secret-key-0123456789", "/governance/v1/audit/logs?format=csv&tenant_id=default", http.StatusForbidden, "tenant_not_accessible"},
		{"demo-fatima-key", "/governance/v1/usage", http.StatusForbidden, "permission_denied"},
		{"demo-admin-key", "/governance/v1/reports/soc2?period=2026-Q5", http.StatusBadRequest, "invalid_period"},
		{"demo-admin-key", "/governance/v1/reports/gossip?period=2026-Q1", http.StatusNotFound, "unknown_report"},
		{"demo-fatima-key", "/governance/v1/reports/job_summary?period=2026", http.StatusForbidden, "permission_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, body := d.governance(t, tt.key, tt.path)
			assert.Equal(t, tt.status, status, "%s", body)
			var b runtimeapi.ErrorBody
			require.NoError(t, json.Unmarshal(body, &b), "%s", body)
			require.NotEmpty(t, b.Errors)
			assert.Equal(t, tt.code, b.Errors[0].Code)
		})
	}
}

// TestReportsThroughTheAPI builds every report of the current month in
// every format.
func TestReportsThroughTheAPI(t *testing.T) {
	d, _ := startAuditDemo(t)
	_, err := d.client("demo-fatima-key", "QR-ml").Submit(context.Background(), bellJob())
	require.NoError(t, err)
	period := url.QueryEscape(time.Now().UTC().Format("2006-01"))
	for _, kind := range []string{"access_review", "budget_usage", "job_summary", "security_events", "soc2", "iso27001"} {
		for _, format := range []string{"json", "csv", "pdf"} {
			status, body := d.governance(t, "demo-admin-key", "/governance/v1/reports/"+kind+"?period="+period+"&format="+format)
			require.Equal(t, http.StatusOK, status, "%s %s: %s", kind, format, body)
			switch format {
			case "pdf":
				assert.True(t, strings.HasPrefix(string(body), "%PDF-"))
			case "json":
				assert.Contains(t, string(body), `"report_type": "`+kind+`"`)
			}
		}
	}
	status, body := d.governance(t, "demo-admin-key", "/governance/v1/reports/job_summary?period="+period)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(body), `"ml",`+"\n"+`          "1",`, "fatima's job counts for ml")
}

// TestAuditCommands runs qgov gov audit verify and query, and qgov gov report, on
// a trail and against the running gateway.
func TestAuditCommands(t *testing.T) {
	d, dir := startAuditDemo(t)
	_, err := d.client("demo-fatima-key", "QR-ml").Submit(context.Background(), bellJob())
	require.NoError(t, err)
	t.Setenv("QGOV_API_KEY", "demo-admin-key")

	code, out, err := gov(t, "audit", "verify", dir)
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "intact")

	_, out, err = gov(t, "audit", "query", "--dir", dir, "--users", "fatima", "--actions", "job:submit")
	require.NoError(t, err)
	assert.Contains(t, out, "quantum-computing.job.create")
	assert.Contains(t, out, "fatima")

	_, out, err = gov(t, "audit", "query", "--url", d.gateway, "--json", "--users", "fatima")
	require.NoError(t, err)
	assert.Contains(t, out, `"initiator_authnId":"fatima"`)

	_, _, err = gov(t, "audit", "query", "--url", d.gateway, "--start-date", "2026-02-01", "--end-date", "2026-01-01")
	assert.ErrorContains(t, err, "inverted")

	pdf := filepath.Join(t.TempDir(), "r.pdf")
	_, out, err = gov(t, "report", "--url", d.gateway, "--type", "soc2", "--period", time.Now().UTC().Format("2006-01"), "--format", "pdf", "--output", pdf)
	require.NoError(t, err)
	assert.Contains(t, out, "wrote")
	raw, err := os.ReadFile(pdf)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(raw, []byte("%PDF-")))

	// an edited record makes verify fail and name it
	files, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	require.NoError(t, err)
	raw, err = os.ReadFile(files[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(files[0], bytes.Replace(raw, []byte(`"outcome":"success"`), []byte(`"outcome":"denied"`), 1), 0o600))
	code, out, err = gov(t, "audit", "verify", dir)
	require.NoError(t, err)
	assert.Equal(t, 1, code, "tampered")
	assert.Contains(t, out, filepath.Base(files[0])+":")
	assert.Contains(t, out, "edited")
}
