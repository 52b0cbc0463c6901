package quota

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/circuit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/store"
)

const bell = `OPENQASM 3.0; include "stdgates.inc"; bit[2] c; h $0; cx $0, $1; c[0] = measure $0; c[1] = measure $1;`

// submission decodes a sampler job of the given pubs, each the Bell
// circuit with shots.
func submission(t testing.TB, backend string, shots ...int) *runtimeapi.Submission {
	t.Helper()
	q, _ := json.Marshal(bell)
	var pubs []string
	for _, s := range shots {
		pubs = append(pubs, fmt.Sprintf("[%s,null,%d]", q, s))
	}
	sub, err := runtimeapi.DecodeSubmission([]byte(`{"program_id":"sampler","backend":"`+backend+`","params":{"pubs":[`+strings.Join(pubs, ",")+`],"version":2}}`), circuit.DefaultLimits)
	require.Nil(t, err)
	return sub
}

func intp(v int) *int { return &v }

// clock is an injectable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func newGovernor(t *testing.T, cfg Config, counters Counters, now func() time.Time, alerts *[]Alert) *Governor {
	t.Helper()
	var mu sync.Mutex
	g, err := New(cfg, counters, Options{Now: now, Retry: 50 * time.Millisecond, OnAlert: func(a Alert) {
		mu.Lock()
		defer mu.Unlock()
		if alerts != nil {
			*alerts = append(*alerts, a)
		}
	}})
	require.NoError(t, err)
	return g
}

func TestResolvePrecedence(t *testing.T) {
	tenant := Level{Scope: ScopeTenant, Name: "lab", Limits: Limits{MaxJobsPerDay: intp(500), MaxShotsPerJob: intp(100000), AllowedBackends: []string{"simulator", "ibm_brisbane", "ionq_aria"}}}
	for _, tc := range []struct {
		name     string
		levels   []Level
		field    Field
		want     int
		wantFrom string
	}{
		{"tenant default applies", []Level{tenant}, MaxJobsPerDay, 500, `tenant "lab"`},
		{"a user override lowers", []Level{tenant, {Scope: ScopeUser, Name: "u", Limits: Limits{MaxJobsPerDay: intp(50)}}}, MaxJobsPerDay, 50, `user "u"`},
		{"a user override may not raise unless allowed", []Level{tenant, {Scope: ScopeUser, Name: "u", Limits: Limits{MaxJobsPerDay: intp(900)}}}, MaxJobsPerDay, 500, `tenant "lab"`},
		{"an allowed raise wins", []Level{tenant, {Scope: ScopeUser, Name: "u", Limits: Limits{MaxJobsPerDay: intp(900), Raise: true}}}, MaxJobsPerDay, 900, `user "u"`},
		{"the most specific of several lowering levels wins", []Level{tenant, {Scope: ScopeProject, Name: "ml", Limits: Limits{MaxJobsPerDay: intp(100)}},
			{Scope: ScopeRole, Name: "intern", Limits: Limits{MaxJobsPerDay: intp(10)}}, {Scope: ScopeUser, Name: "u", Limits: Limits{MaxJobsPerDay: intp(20)}}}, MaxJobsPerDay, 10, `role "intern"`},
		{"unset levels say nothing", []Level{tenant, {Scope: ScopeProject, Name: "ml"}}, MaxShotsPerJob, 100000, `tenant "lab"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Resolve(tc.levels...)
			b := e.Bound(tc.field)
			require.True(t, b.Set)
			assert.Equal(t, tc.want, b.Value)
			assert.Equal(t, tc.wantFrom, b.From.String())
		})
	}
	e := Resolve(tenant, Level{Scope: ScopeUser, Name: "u", Limits: Limits{AllowedBackends: []string{"simulator", "ibm_torino"}}})
	assert.Equal(t, []string{"simulator"}, e.allowed, "a lowering level narrows the allowed backends")

	roles := combineRoles([]RoleLimits{{"intern", Limits{MaxJobsPerDay: intp(10), AllowedBackends: []string{"simulator"}}},
		{"senior", Limits{MaxJobsPerDay: intp(100), AllowedBackends: []string{"ibm_brisbane"}}}})
	v, _ := roles.Limits.Get(MaxJobsPerDay)
	assert.Equal(t, 100, v, "several roles: the most permissive")
	assert.ElementsMatch(t, []string{"simulator", "ibm_brisbane"}, roles.Limits.AllowedBackends)
	roles = combineRoles([]RoleLimits{{"intern", Limits{MaxJobsPerDay: intp(10)}}, {"researcher", Limits{}}})
	_, set := roles.Limits.Get(MaxJobsPerDay)
	assert.False(t, set, "a role without the limit lifts it at the role level")
}

// TestUnknownSizeBounded: under unknown_size bounded a job the gateway
// cannot size passes the size limits when max_execution_time bounds it,
// and is refused, saying so, when it does not.
func TestUnknownSizeBounded(t *testing.T) {
	cfg := Config{UnknownSize: UnknownBounded, Limits: []Rule{{Scope: ScopeTenant, Name: "lab", Limits: Limits{MaxShotsPerJob: intp(10000)}}}}
	require.NoError(t, Check(cfg))
	g := newGovernor(t, cfg, store.NewMemory(nil), nil, nil)
	for _, tc := range []struct {
		body, code string
	}{
		{`{"program_id":"calibrate","params":{"options":{}},"cost":60}`, ""},
		{`{"program_id":"calibrate","params":{"options":{}}}`, "job_size_unknown"},
	} {
		sub, err := runtimeapi.DecodeSubmission([]byte(tc.body), circuit.DefaultLimits)
		require.Nil(t, err)
		_, err = g.Admit(context.Background(), Job{Caller: Caller{Tenant: "lab", Project: "ml", User: "u"}, Backend: "ibm_x", Sub: sub})
		if tc.code == "" {
			assert.Nil(t, err, tc.body)
			continue
		}
		require.NotNil(t, err, tc.body)
		assert.Equal(t, tc.code, err.Code)
		assert.Contains(t, err.Message, "needs max_execution_time")
	}
	assert.Error(t, Check(Config{UnknownSize: "maybe"}))
}

// TestJobRules covers the limits that count nothing, and bad input.
func TestJobRules(t *testing.T) {
	cfg := Config{Limits: []Rule{{Scope: ScopeTenant, Name: "lab", Limits: Limits{MaxShotsPerJob: intp(10000), MaxBatchSize: intp(3),
		MaxQubitsPerCircuit: intp(5), MaxCircuitDepth: intp(50), AllowedBackends: []string{"simulator", "ibm_brisbane"}, BlockedBackends: []string{"ibm_brisbane_beta"}}},
		{Scope: ScopeUser, Tenant: "lab", Name: "intern", Limits: Limits{AllowedBackends: []string{"simulator"}}}}}
	g := newGovernor(t, cfg, store.NewMemory(nil), nil, nil)
	unknown, err := runtimeapi.DecodeSubmission([]byte(`{"program_id":"sampler","params":{"pubs":[["OPENQASM 3.0; mygate q;"]]}}`), circuit.DefaultLimits)
	require.Nil(t, err)
	other, err := runtimeapi.DecodeSubmission([]byte(`{"program_id":"calibrate","params":{"options":{}}}`), circuit.DefaultLimits)
	require.Nil(t, err)
	for _, tc := range []struct {
		name     string
		user     string
		backend  string
		sub      *runtimeapi.Submission
		wantCode string
		wantMsg  []string
	}{
		{"within every limit", "u", "ibm_brisbane", submission(t, "ibm_brisbane", 1000, 1000), "", nil},
		{"too many shots", "u", "ibm_brisbane", submission(t, "ibm_brisbane", 6000, 6000), "limit_exceeded",
			[]string{"12000 shots", "max_shots_per_job 10000", `tenant "lab"`, "does not reset"}},
		{"too many pubs", "u", "ibm_brisbane", submission(t, "ibm_brisbane", 1, 1, 1, 1), "limit_exceeded", []string{"4 pubs", "max_batch_size 3"}},
		{"unreadable circuits under a size limit", "u", "ibm_brisbane", unknown, "job_size_unknown", []string{"max_shots_per_job is 10000"}},
		{"a program the gateway does not size", "u", "ibm_brisbane", other, "job_size_unknown", []string{"program calibrate", "unknown_size refuse"}},
		{"a backend outside the allowed list", "u", "ibm_torino", submission(t, "ibm_torino", 10), "backend_not_allowed", []string{`backend "ibm_torino"`, "allowed_backends of tenant"}},
		{"a blocked backend", "u", "ibm_brisbane_beta", submission(t, "ibm_brisbane_beta", 10), "backend_blocked", []string{"blocked_backends"}},
		{"a user restricted to simulators", "intern", "ibm_brisbane", submission(t, "ibm_brisbane", 10), "backend_not_allowed", []string{`user "intern"`}},
		{"simulator stands for every simulator", "intern", "qgov_simulator", submission(t, "qgov_simulator", 10), "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := g.Admit(context.Background(), Job{Caller: Caller{Tenant: "lab", Project: "ml", User: tc.user}, Backend: tc.backend, Sub: tc.sub})
			if tc.wantCode == "" {
				require.Nil(t, err)
				assert.NotNil(t, a)
				return
			}
			require.NotNil(t, err)
			assert.Equal(t, http.StatusForbidden, runtimeapi.StatusOf(err.Code))
			assert.Equal(t, tc.wantCode, err.Code)
			for _, m := range tc.wantMsg {
				assert.Contains(t, err.Message, m)
			}
		})
	}
}

// TestWindowsReset moves an injectable clock across hour, day and month
// boundaries.
func TestWindowsReset(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 30, 22, 59, 0, 0, time.UTC)}
	cfg := Config{Limits: []Rule{{Scope: ScopeUser, Name: "u", Limits: Limits{MaxJobsPerHour: intp(2), MaxJobsPerDay: intp(3)}}},
		Budgets: []Budget{{Scope: ScopeTenant, Name: "default", MonthlyLimitUSD: 10}}, DefaultPrice: new(float64)}
	*cfg.DefaultPrice = 1
	g := newGovernor(t, cfg, store.NewMemory(clk.Now), clk.Now, nil)
	job := Job{Caller: Caller{Tenant: "default", Project: "ml", User: "u"}, Backend: "ibm_x", Sub: submission(t, "ibm_x", 100)}
	admit := func() *denial.Denial { _, err := g.Admit(context.Background(), job); return err }

	require.Nil(t, admit())
	require.Nil(t, admit())
	err := admit()
	require.NotNil(t, err)
	assert.Equal(t, http.StatusTooManyRequests, runtimeapi.StatusOf(err.Code))
	assert.Equal(t, "quota_exceeded", err.Code)
	assert.Contains(t, err.Message, `user "u" has 2 jobs submitted this hour, and max_jobs_per_hour is 2`)
	assert.Contains(t, err.Message, "resets at 2026-11-30T23:00:00Z, in 60s")
	assert.Equal(t, 60, err.RetryAfter)
	assert.Equal(t, "0", err.Header.Get("RateLimit-Remaining"))
	assert.Equal(t, "60", err.Header.Get("RateLimit-Reset"))

	clk.Set(time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)) // a new hour, the same day
	require.Nil(t, admit())
	err = admit()
	require.NotNil(t, err)
	assert.Contains(t, err.Message, "max_jobs_per_day is 3")
	assert.Contains(t, err.Message, "resets at 2026-12-01T00:00:00Z")

	// Each job reserved 2.05 s × USD 1 against the tenant's USD 10.
	clk.Set(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) // a new day and a new month
	a, err := g.Admit(context.Background(), job)
	require.Nil(t, err)
	assert.InDelta(t, 10-a.Estimate.USD, a.RemainingUSD, 0.01, "the budget starts afresh in December")
}

// TestPrecheck checks a submission before its body is read: its request
// rate is counted there and not again at admission, and a caller with no
// room for another job is refused before it, with the limit named and
// nothing counted.
func TestPrecheck(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		limits Limits
	}{
		{"probe alone (a read)", Limits{MaxConcurrentJobs: intp(2)}},
		{"probe with a rate (one atomic step)", Limits{MaxConcurrentJobs: intp(2), RequestsPerMinute: intp(100)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := store.NewMemory(nil)
			g := newGovernor(t, Config{Limits: []Rule{{Scope: ScopeUser, Name: "u", Limits: tc.limits}}}, st, nil, nil)
			caller := Caller{Tenant: "default", Project: "ml", User: "u"}
			job := Job{Caller: caller, Backend: "qgov_simulator", Sub: submission(t, "qgov_simulator", 10), RateCounted: true}
			for range 2 {
				_, err := g.Precheck(ctx, caller, false)
				require.Nil(t, err)
				_, err = g.Admit(ctx, job)
				require.Nil(t, err)
			}
			_, err := g.Precheck(ctx, caller, false)
			require.NotNil(t, err, "two jobs run: no room for a third")
			assert.Equal(t, "quota_exceeded", err.Code)
			assert.Contains(t, err.Message, "max_concurrent_jobs is 2")
			assert.Equal(t, "2", err.Header.Get("RateLimit-Limit"), "the limit as configured")
			keys := []string{"max_concurrent_jobs:u:u", "requests_per_minute:u:u:" + windowAt("minute", time.Now()).id}
			values, verr := st.Values(ctx, "default", keys)
			require.NoError(t, verr)
			assert.Equal(t, int64(2), values[0], "the refusal counted no job")
			if tc.limits.RequestsPerMinute != nil {
				assert.Equal(t, int64(2), values[1], "each admitted submission's rate counted once, before its body; the refused one moved nothing")
			}
		})
	}
}

// TestBudgets reserves estimates, replaces them by actual usage, releases
// refused jobs, and alerts once per crossing.
func TestBudgets(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	var alerts []Alert
	cfg := Config{Budgets: []Budget{{Scope: ScopeTenant, Name: "lab", MonthlyLimitUSD: 100, AlertThresholdPercent: 50},
		{Scope: ScopeProject, Tenant: "lab", Name: "ml", MonthlyLimitUSD: 30}}, Prices: map[string]float64{"ibm_x": 2}}
	mem := store.NewMemory(clk.Now)
	g := newGovernor(t, cfg, mem, clk.Now, &alerts)
	ctx := context.Background()
	job := func(project string, shots int) Job {
		return Job{Caller: Caller{Tenant: "lab", Project: project, User: "u"}, Instance: "QR", Backend: "ibm_x", Sub: submission(t, "ibm_x", shots)}
	}
	// 20,000 shots × (depth 3 × 1.56 µs + 250 µs) + 2 s = 7.09 s, USD 14.19 at USD 2.
	a, err := g.Admit(ctx, job("ml", 20000))
	require.Nil(t, err)
	assert.InDelta(t, 7.0936, a.Estimate.Seconds, 0.001)
	assert.InDelta(t, 14.19, a.Estimate.USD, 0.01)
	assert.InDelta(t, 30-14.19, a.RemainingUSD, 0.01, "the project's budget is the tighter")
	require.NoError(t, g.Bind(ctx, a, "job-1"))

	_, err = g.Admit(ctx, job("ml", 20000))
	require.Nil(t, err)
	refused, err := g.Admit(ctx, job("ml", 20000))
	require.Nil(t, refused)
	require.NotNil(t, err)
	assert.Equal(t, http.StatusForbidden, runtimeapi.StatusOf(err.Code))
	assert.Equal(t, "budget_exceeded", err.Code)
	for _, m := range []string{"USD 14.19", `the budget of project "ml"`, "USD 28.37 of 30.00", "7.1 quantum-seconds at USD 2.00", "2026-11", "resets at 2026-12-01T00:00:00Z"} {
		assert.Contains(t, err.Message, m)
	}
	assert.Equal(t, []Alert{
		{Tenant: "lab", Scope: ScopeProject, Name: "ml", Period: "2026-11", Percent: 80, UsedUSD: 28.37, LimitUSD: 30},
		{Tenant: "lab", Scope: ScopeProject, Name: "ml", Period: "2026-11", Percent: 100, Exceeded: true, UsedUSD: 28.37, LimitUSD: 30},
	}, alerts, "the second job crossed the project's default 80% threshold; the third was refused")

	// The first job ends having used 3 s: its estimate is replaced.
	open, oerr := g.Open(ctx, "lab")
	require.NoError(t, oerr)
	require.Len(t, open, 2)
	var first Reservation
	for _, r := range open {
		if r.JobID == "job-1" {
			first = r
		}
	}
	require.Equal(t, "job-1", first.JobID)
	ok, serr := g.Settle(ctx, first, 3)
	require.NoError(t, serr)
	assert.True(t, ok)
	ok, serr = g.Settle(ctx, first, 3)
	require.NoError(t, serr)
	assert.False(t, ok, "a job is settled once")
	u, uerr := g.Usage(ctx, Caller{Tenant: "lab", Project: "ml", User: "u"})
	require.NoError(t, uerr)
	require.Len(t, u.Budgets, 2)
	assert.Equal(t, "tenant", u.Budgets[0].Scope)
	assert.InDelta(t, 6, u.Budgets[0].SpentUSD, 0.001)
	assert.InDelta(t, 14.19, u.Budgets[0].ReservedUSD, 0.01)
	assert.InDelta(t, 100-20.19, u.Budgets[0].RemainingUSD, 0.01)
	all, berr := g.Budgets(ctx, "")
	require.NoError(t, berr)
	require.Len(t, all, 2, "every budget in force, as the caller's usage shows them")
	for i, b := range all {
		assert.Equal(t, "lab", b.Tenant)
		b.Tenant = ""
		assert.Equal(t, u.Budgets[i], b)
	}
	other, berr := g.Budgets(ctx, "elsewhere")
	require.NoError(t, berr)
	assert.Empty(t, other, "another tenant's budgets are not read")

	// A job the upstream refuses is released in full.
	b, err := g.Admit(ctx, job("chem", 20000))
	require.Nil(t, err)
	require.NoError(t, g.Release(ctx, b.Reservation))
	u, uerr = g.Usage(ctx, Caller{Tenant: "lab", Project: "ml", User: "u"})
	require.NoError(t, uerr)
	assert.InDelta(t, 6+14.19, 100-u.Budgets[0].RemainingUSD, 0.01)

	// Crossing the tenant's 50% threshold alerts once; a free simulator job reserves nothing.
	alerts = nil
	for _, p := range []string{"chem", "chem", "chem"} {
		_, err := g.Admit(ctx, job(p, 20000))
		require.Nil(t, err)
	}
	require.Len(t, alerts, 1)
	assert.Equal(t, 50, alerts[0].Percent)
	assert.Equal(t, "lab", alerts[0].Name)
	free := Job{Caller: Caller{Tenant: "lab", Project: "ml", User: "u"}, Backend: "qgov_simulator", Sub: submission(t, "qgov_simulator", 100000)}
	a, err = g.Admit(ctx, free)
	require.Nil(t, err)
	assert.Zero(t, a.Estimate.USD)
	assert.Zero(t, a.EstimateMicros, "nothing to reserve")
	assert.NotEmpty(t, a.ID, "the reservation records the submission in flight")
}

// TestUnknownSizeUnderBudget applies the documented rule: a job whose
// circuits cannot be read is refused on a priced backend under a budget
// unless max_execution_time bounds its charge.
func TestUnknownSizeUnderBudget(t *testing.T) {
	g := newGovernor(t, Config{Budgets: []Budget{{Scope: ScopeTenant, Name: "default", MonthlyLimitUSD: 1000}}}, store.NewMemory(nil), nil, nil)
	job := func(body string) Job {
		sub, err := runtimeapi.DecodeSubmission([]byte(body), circuit.DefaultLimits)
		require.Nil(t, err)
		return Job{Caller: Caller{Tenant: "default", Project: "ml", User: "u"}, Backend: "ibm_x", Sub: sub}
	}
	_, err := g.Admit(context.Background(), job(`{"program_id":"sampler","backend":"ibm_x","params":{"pubs":[["OPENQASM 3.0; mygate q;"]]}}`))
	require.NotNil(t, err)
	assert.Equal(t, "job_size_unknown", err.Code)
	assert.Contains(t, err.Message, "max_execution_time")
	a, err := g.Admit(context.Background(), job(`{"program_id":"sampler","backend":"ibm_x","cost":300,"params":{"pubs":[["OPENQASM 3.0; mygate q;"]]}}`))
	require.Nil(t, err)
	assert.InDelta(t, 300*DefaultPricePerSecond, a.Estimate.USD, 1e-9, "reserved at its max_execution_time")
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown scope", Config{Limits: []Rule{{Scope: "team", Name: "x"}}}, "scope must be tenant, project, user or key"},
		{"negative limit", Config{Limits: []Rule{{Scope: ScopeUser, Name: "u", Limits: Limits{MaxJobsPerDay: intp(-1)}}}}, "max_jobs_per_day must not be negative"},
		{"a key may not raise", Config{Limits: []Rule{{Scope: ScopeKey, Name: "k", Limits: Limits{Raise: true}}}}, "only lower"},
		{"twice", Config{Limits: []Rule{{Scope: ScopeUser, Name: "u"}, {Scope: ScopeUser, Name: "u"}}}, "declared twice"},
		{"bad threshold", Config{Budgets: []Budget{{Scope: ScopeTenant, Name: "t", MonthlyLimitUSD: 1, AlertThresholdPercent: 120}}}, "1 to 100"},
		{"bad fail mode", Config{FailModes: map[string]string{"budget": "maybe"}}, "neither open nor closed"},
		{"unknown class", Config{FailModes: map[string]string{"shots": "open"}}, "unknown limit class"},
		{"negative price", Config{Prices: map[string]float64{"ibm_x": -1}}, "non-negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, store.NewMemory(nil), Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
