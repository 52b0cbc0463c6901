package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/ibm/runtimeapi"
)

// scrape is one read of Caddy's admin /metrics.
type scrape struct {
	text     string
	families map[string]*dto.MetricFamily
}

// scrapeMetrics reads the metrics the running Caddy exposes.
func scrapeMetrics(t *testing.T) scrape {
	t.Helper()
	resp, err := http.Get("http://localhost:2999/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	parser := expfmt.NewTextParser(pmodel.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)
	return scrape{text: string(body), families: families}
}

// matching are the samples of a metric whose labels include these
// (name, value pairs).
func (s scrape) matching(name string, labels ...string) []*dto.Metric {
	var out []*dto.Metric
next:
	for _, m := range s.families[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if v, ok := have[labels[i]]; !ok || v != labels[i+1] {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// value sums the samples of a metric whose labels include these, or is
// -1 when the scrape has none.
func (s scrape) value(name string, labels ...string) float64 {
	ms := s.matching(name, labels...)
	if len(ms) == 0 {
		return -1
	}
	sum := 0.0
	for _, m := range ms {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// observations is how many samples a histogram with these labels holds.
func (s scrape) observations(name string, labels ...string) uint64 {
	var n uint64
	for _, m := range s.matching(name, labels...) {
		n += m.GetHistogram().GetSampleCount()
	}
	return n
}

// count is a counter's sum, 0 when it has not been counted yet.
func (s scrape) count(name string, labels ...string) float64 { return max(s.value(name, labels...), 0) }

// TestMetrics scrapes Caddy's admin /metrics around a run of the demo
// with a block policy and an approval workflow: each decision is counted
// by outcome, code and action; the held job shows as pending until it is
// approved and reserves its estimate against the budgets; the upstream
// token exchange, the audit trail and the governance revision are there;
// no label names a user.
func TestMetrics(t *testing.T) {
	d := startDemoWith(t, demoPolicies)
	ctx := context.Background()
	fatima := d.client("demo-fatima-key", "QR-ml")
	before := scrapeMetrics(t)

	created, err := fatima.Submit(ctx, bellJob())
	require.NoError(t, err)
	_, err = fatima.Wait(ctx, created.ID, 20*time.Millisecond)
	require.NoError(t, err)
	_, err = fatima.Submit(ctx, hardwareJob())
	require.Error(t, err, "blocked by require_experiment_tag")
	held, err := fatima.Submit(ctx, hardwareJob("experiment:bell"))
	require.NoError(t, err)

	req, _ := http.NewRequest(http.MethodGet, d.gateway+"/api/v1/backends", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var refusal runtimeapi.ErrorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&refusal))
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Len(t, refusal.Errors, 1)

	after := scrapeMetrics(t)
	create := string(runtimeapi.ActionJobCreate)
	for _, tc := range []struct {
		name                  string
		outcome, code, action string
		want                  float64
	}{
		{"the simulator job", "success", "", create, 1},
		{"the untagged hardware job", "denied", "policy_blocked", create, 1},
		{"the held job", "held", "", create, 1},
		{"the bad token, whatever its route", "denied", refusal.Errors[0].Code, "", 1},
	} {
		labels := []string{"outcome", tc.outcome, "code", tc.code}
		if tc.action != "" {
			labels = append(labels, "action", tc.action)
		}
		assert.Equal(t, tc.want, after.count("qgov_decisions_total", labels...)-before.count("qgov_decisions_total", labels...), tc.name)
	}

	assert.Equal(t, 1.0, after.value("qgov_approvals_pending", "tenant", "default"))
	assert.Equal(t, 1000.0, after.value("qgov_budget_limit_usd", "tenant", "default", "scope", "project", "name", "ml"))
	assert.Equal(t, 5000.0, after.value("qgov_budget_limit_usd", "tenant", "default", "scope", "tenant", "name", "default"))
	reserved := after.value("qgov_budget_reserved_usd", "tenant", "default", "scope", "project", "name", "ml")
	assert.Greater(t, reserved, 1.0, "the held job's estimate (over the workflow's USD 1) is reserved")
	assert.Equal(t, reserved, after.value("qgov_budget_reserved_usd", "tenant", "default", "scope", "tenant", "name", "default"))
	assert.GreaterOrEqual(t, after.value("qgov_upstream_token_refreshes_total", "instance", "QR-ml", "result", "ok"), 1.0)
	assert.Equal(t, 0.0, after.value("qgov_upstream_token_refreshes_total", "instance", "QR-ml", "result", "failed"))
	assert.Greater(t, after.value("qgov_audit_records_total"), before.value("qgov_audit_records_total"))
	assert.GreaterOrEqual(t, after.value("qgov_audit_queue_depth"), 0.0)
	assert.GreaterOrEqual(t, after.value("qgov_governance_revision"), 0.0)
	for _, step := range gateway.Steps {
		assert.Greater(t, after.observations("qgov_step_duration_seconds", "step", string(step)),
			before.observations("qgov_step_duration_seconds", "step", string(step)), "the %s step is timed", step)
	}
	for _, m := range []string{"qgov_notifications_delivered_total", "qgov_notifications_retries_total", "qgov_notifications_failed_total"} {
		assert.GreaterOrEqual(t, after.value(m), 0.0, m)
	}
	for _, line := range strings.Split(after.text, "\n") {
		if strings.HasPrefix(line, "qgov_") {
			assert.NotContains(t, line, "fatima", "no metric is labelled by user")
			assert.NotContains(t, line, held.ID, "no metric is labelled by job")
		}
	}

	token, err := d.client("demo-admin-key", "QR-ml").Token(ctx)
	require.NoError(t, err)
	req, _ = http.NewRequest(http.MethodPost, d.gateway+"/governance/v1/approvals/"+held.ID,
		strings.NewReader(`{"decision":"reject","comment":"not this quarter"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 0.0, scrapeMetrics(t).value("qgov_approvals_pending", "tenant", "default"), "a decided job is no longer pending")
}
