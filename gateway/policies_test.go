package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/approval"
	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/notify"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/policy"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/rbac"
	"github.com/qgov/qgov/store"
)

// governed is the organisation of the policy tests: QR-ml lists its
// backends; lee leads ml, sam is a senior researcher there, root is the
// tenant's admin (admin@example.com).
func governed(c *org.Config) {
	c.Instances[0].Backends = []string{"ibm_qgov_eagle", "ibm_qgov_kestrel", "qgov_simulator"}
	c.Roles = []rbac.RoleConfig{{Name: "senior_researcher", Inherits: []string{"researcher"}, Permissions: []string{"job:priority:high"}}}
	c.AccessGroups = append(c.AccessGroups,
		org.AccessGroup{Name: "ml-leads", Projects: []string{"ml"}, Roles: []string{"team_lead"}, Members: []string{"lee"}},
		org.AccessGroup{Name: "ml-seniors", Projects: []string{"ml"}, Roles: []string{"senior_researcher"}, Members: []string{"sam"}})
	c.Assignments = append(c.Assignments, org.Assignment{User: "root", Role: "admin"})
	c.Tenants = append(c.Tenants, org.TenantSettings{Name: "default", AllowPriorityQueue: true, NotificationChannels: []string{"slack"}})
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// examplePolicies are IBM's enterprise-governance policies and workflows, verbatim.
func examplePolicies(t *testing.T) *policy.Set {
	f, err := policy.LoadFile("../policy/testdata/policies.yaml")
	require.NoError(t, err)
	s, err := policy.Compile(f.Policies, f.Workflows)
	require.NoError(t, err)
	return s
}

// job returns isaJob on a backend with tags.
func job(backend string, tags ...string) string {
	tj, _ := json.Marshal(tags)
	return strings.Replace(strings.Replace(isaJob, `"ibm_qgov_kestrel"`, fmt.Sprintf("%q", backend), 1), `"program_id"`, `"tags":`+string(tj)+`,"program_id"`, 1)
}

func errorCode(t *testing.T, body []byte) (string, string) {
	var e runtimeapi.ErrorBody
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.NotEmpty(t, e.Errors, string(body))
	return e.Errors[0].Code, e.Errors[0].Message
}

// policyRig serves gateways over one store with the demo's policies, a
// price that makes a 1000-shot kestrel job cost about USD 67, and a
// webhook that records notifications.
type policyRig struct {
	*rig
	clock *clock
	hook  chan notify.Message
	cfg   func(*Config)
}

func newPolicyRig(t *testing.T, set *policy.Set, start time.Time) *policyRig {
	pr := &policyRig{rig: newRig(t, governed), clock: &clock{t: start}, hook: make(chan notify.Message, 64)}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m notify.Message
		if json.NewDecoder(r.Body).Decode(&m) == nil {
			pr.hook <- m
		}
	}))
	t.Cleanup(hook.Close)
	n := startNotifier(t, hook.URL)
	pr.cfg = func(c *Config) {
		c.Policies, c.Notify, c.Now = policy.NewCurrent(set), n, pr.clock.Now
		c.Auth.Now = time.Now
	}
	return pr
}

func (pr *policyRig) gateway(t *testing.T, st store.Store, node string) (*httptest.Server, *Gateway) {
	g, err := quota.New(quota.Config{Prices: map[string]float64{"ibm_qgov_kestrel": 30, "ibm_qgov_eagle": 1.6},
		Budgets: []quota.Budget{{Scope: quota.ScopeTenant, Name: "default", MonthlyLimitUSD: 10000}}},
		st.(quota.Counters), quota.Options{Now: pr.clock.Now})
	require.NoError(t, err)
	return pr.serve(t, st, func(c *Config) {
		pr.cfg(c)
		c.Quota, c.Approvals, c.Node = g, approval.NewBook(st), node
	})
}

func openBolt(t *testing.T, path string) store.Store {
	st, err := store.OpenBolt(path)
	require.NoError(t, err)
	return st
}

// startNotifier delivers to one webhook channel, "slack", at url, from
// an outbox of its own.
func startNotifier(t *testing.T, url string) *notify.Notifier {
	box := openBolt(t, filepath.Join(t.TempDir(), "outbox.db"))
	t.Cleanup(func() { box.Close() })
	n, err := notify.New([]notify.Channel{{Name: "slack", URL: url}}, box, notify.Options{})
	require.NoError(t, err)
	n.Start()
	t.Cleanup(n.Close)
	return n
}

// upstreamJob reads a job as the client sees it.
func upstreamJob(t *testing.T, srv *httptest.Server, key, id string) runtimeapi.Job {
	status, body := call(t, srv, key, "GET", "/api/v1/jobs/"+id, "")
	require.Equal(t, http.StatusOK, status, string(body))
	var j runtimeapi.Job
	require.NoError(t, json.Unmarshal(body, &j))
	return j
}

// TestSeedPoliciesThroughTheGateway sends jobs through a gateway with
// IBM's enterprise-governance four policies in front of the simulator.
func TestSeedPoliciesThroughTheGateway(t *testing.T) {
	saturday := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	pr := newPolicyRig(t, examplePolicies(t), saturday)
	st := openBolt(t, filepath.Join(t.TempDir(), "qgov.db"))
	defer st.Close()
	srv, _ := pr.gateway(t, st, "n1")

	// weekend_cost_limit: USD 67 on a Saturday.
	resp, body := post(t, srv, job("ibm_qgov_kestrel", "experiment:vqe"))
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(body))
	code, msg := errorCode(t, body)
	assert.Equal(t, "policy_blocked", code)
	assert.Equal(t, "Jobs over $10 blocked on weekends (rule: policy weekend_cost_limit, tenant all tenants)", msg)

	// require_experiment_tag: hardware without the tag, on a Monday.
	pr.clock.Add(48 * time.Hour)
	resp, body = post(t, srv, job("ibm_qgov_eagle"))
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(body))
	_, msg = errorCode(t, body)
	assert.Contains(t, msg, "Hardware jobs require 'experiment' tag (rule: policy require_experiment_tag")

	// dev_to_simulator: the forwarded body names the simulator, nothing else changes.
	resp, body = post(t, srv, job("ibm_qgov_eagle", "environment:development", "experiment:x"))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var created runtimeapi.JobCreated
	require.NoError(t, json.Unmarshal(body, &created))
	j := upstreamJob(t, srv, "fatima-key", created.ID)
	assert.Equal(t, "qgov_simulator", j.Backend, "the upstream ran it on the simulator")
	assert.Equal(t, []string{"environment:development", "experiment:x"}, j.Tags)

	// large_job_notification: 60000 shots on the simulator notify the team lead through slack.
	resp, body = post(t, srv, strings.Replace(job("qgov_simulator"), "1000]", "60000]", 1))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var texts []string
	for len(texts) < 2 {
		select {
		case m := <-pr.hook:
			assert.Equal(t, "qgov.policy.notify", m.Event)
			assert.Equal(t, []string{"role team_lead"}, m.Recipients)
			assert.Equal(t, "large_job_notification", m.Data["policy"])
			texts = append(texts, fmt.Sprint(m.Data["shots"], " ", strings.Contains(m.Text, "It was blocked by policy weekend_cost_limit.")))
		case <-time.After(5 * time.Second):
			t.Fatal("missing notifications")
		}
	}
	assert.ElementsMatch(t, []string{"1000 true", "60000 false"}, texts, "the USD 67 job blocked on Saturday, and the large one")
}

// TestPolicyErrorsDeny: a policy that fails at run time refuses the
// request with 403 naming it; one in audit mode only notes it.
func TestPolicyErrorsDeny(t *testing.T) {
	set, err := policy.Compile([]policy.Policy{
		{Name: "nil-tag", Condition: "tags.size > 3", Action: policy.ActionBlock},
		{Name: "reads-too", Condition: "len(map(1..100000000, # * 2)) > 0", Action: policy.ActionBlock, Actions: []string{"quantum-computing.job.read"}},
	}, nil)
	require.NoError(t, err)
	pr := newPolicyRig(t, set, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	st := openBolt(t, filepath.Join(t.TempDir(), "qgov.db"))
	defer st.Close()
	srv, _ := pr.gateway(t, st, "n1")
	resp, body := post(t, srv, job("qgov_simulator"))
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(body))
	code, msg := errorCode(t, body)
	assert.Equal(t, "policy_error", code)
	assert.Contains(t, msg, "policy/nil-tag could not be evaluated for this request, so it is refused")
	status, body := call(t, srv, "fatima-key", "GET", "/api/v1/jobs/whatever", "")
	assert.Equal(t, http.StatusForbidden, status, "a policy on reads applies to reads: %s", body)
}

// TestRefusalKeepsThePoliciesNotes: a policy in audit mode notes a
// session's creation, which is then refused for its body's size; the
// refusal's audit record still names the policy and carries its note.
func TestRefusalKeepsThePoliciesNotes(t *testing.T) {
	set, err := policy.Compile([]policy.Policy{{Name: "watch-sessions", Condition: "true", Action: policy.ActionBlock,
		Mode: policy.ModeAudit, Actions: []string{string(runtimeapi.ActionSessionCreate)}}}, nil)
	require.NoError(t, err)
	trailDir := t.TempDir()
	file, err := audit.OpenFile(audit.FileConfig{Dir: trailDir, Fsync: audit.FsyncAlways})
	require.NoError(t, err)
	trail := audit.New(file, nil, audit.Options{})
	defer trail.Close()
	st := openBolt(t, filepath.Join(t.TempDir(), "qgov.db"))
	defer st.Close()
	srv, _ := newRig(t).serve(t, st, func(c *Config) {
		c.Policies, c.Audit, c.MaxBodyBytes = policy.NewCurrent(set), trail, 1024
	})

	status, body := call(t, srv, "fatima-key", http.MethodPost, "/api/v1/sessions", `{"mode":"dedicated","max_ttl":`+strings.Repeat("1", 2048)+`}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, status, string(body))
	page, err := audit.FileSource{Dir: trailDir}.Query(context.Background(), audit.Filter{Tenant: "default", Actions: []string{string(runtimeapi.ActionSessionCreate)}}, "", 10)
	require.NoError(t, err)
	require.Len(t, page.Logs, 1)
	rec := page.Logs[0]
	assert.Equal(t, "body_too_large", rec.Code)
	assert.Contains(t, rec.RuleIDs, "policy/watch-sessions", "the refusal names the policy that saw the request")
	assert.Contains(t, rec.Note, "policy watch-sessions (audit mode) would block")
}

// submitHeld submits a USD 67 hardware job on a weekday: the demo's
// high_cost_job and hardware_access workflows hold it.
func submitHeld(t *testing.T, srv *httptest.Server) string {
	resp, body := post(t, srv, job("ibm_qgov_kestrel", "experiment:vqe"))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var created struct {
		ID   string `json:"id"`
		Qgov struct {
			Status    string   `json:"status"`
			Workflows []string `json:"workflows"`
		} `json:"qgov"`
	}
	require.NoError(t, json.Unmarshal(body, &created))
	require.Len(t, created.ID, 20)
	assert.Equal(t, "pending_approval", created.Qgov.Status)
	assert.Equal(t, []string{"high_cost_job", "hardware_access"}, created.Qgov.Workflows)
	return created.ID
}

func postAs(t *testing.T, srv *httptest.Server, key, body string) (int, []byte) {
	return call(t, srv, key, "POST", "/api/v1/jobs", body)
}

// heldView is what these tests read of the approvals API's view of a
// hold (govapi.ApprovalView).
type heldView struct {
	JobID     string                    `json:"job_id"`
	Status    string                    `json:"status"`
	Reason    string                    `json:"reason"`
	Pending   []string                  `json:"pending_workflows"`
	Upstream  *approval.Upstream        `json:"upstream"`
	Decisions map[int]approval.Decision `json:"decisions"`
}

func decide(t *testing.T, srv *httptest.Server, key, id, decision, comment string) (int, []byte) {
	b, _ := json.Marshal(DecisionRequest{Decision: decision, Comment: comment})
	return call(t, srv, key, "POST", "/governance/v1/approvals/"+id, string(b))
}

// TestHeldJobSurvivesARestartAndIsReleasedOnce holds a job, restarts the
// gateway over the same store, and has its approvers decide: the job is
// forwarded once and the id the client holds follows it to the end.
func TestHeldJobSurvivesARestartAndIsReleasedOnce(t *testing.T) {
	pr := newPolicyRig(t, examplePolicies(t), time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	path := filepath.Join(t.TempDir(), "qgov.db")
	st := openBolt(t, path)
	srv, _ := pr.gateway(t, st, "n1")
	id := submitHeld(t, srv)

	j := upstreamJob(t, srv, "fatima-key", id)
	assert.Equal(t, runtimeapi.StatusQueued, j.Status)
	assert.Contains(t, j.State.Reason, "awaiting approval: workflow high_cost_job (approvers: role team_lead, user admin@example.com; decide by 2026-11-24T10:00:00Z)")
	assert.Contains(t, j.State.Reason, "workflow hardware_access (approvers: role admin; decide by 2026-11-23T14:00:00Z)")
	status, body := call(t, srv, "ravi-key", "GET", "/api/v1/jobs/"+id, "")
	assert.Equal(t, http.StatusNotFound, status, "another project's member sees nothing: %s", body)
	status, body = call(t, srv, "fatima-key", "GET", "/api/v1/jobs/"+id+"/results", "")
	assert.Equal(t, http.StatusConflict, status, string(body))

	// restart: a new gateway over the reopened store
	srv.Close()
	require.NoError(t, st.Close())
	st = openBolt(t, path)
	defer st.Close()
	srv, gw := pr.gateway(t, st, "n2")
	assert.Equal(t, runtimeapi.StatusQueued, upstreamJob(t, srv, "fatima-key", id).Status)

	status, body = decide(t, srv, "fatima-key", id, "approve", "mine")
	code, msg := errorCode(t, body)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, "approval_not_allowed", code, msg)
	status, body = decide(t, srv, "ravi-key", id, "approve", "")
	assert.Equal(t, http.StatusNotFound, status, "a foreign job is not found: %s", body)
	status, body = decide(t, srv, "lee-key", "nosuchjob", "approve", "")
	assert.Equal(t, http.StatusNotFound, status, string(body))
	status, body = decide(t, srv, "lee-key", id, "maybe", "")
	assert.Equal(t, http.StatusBadRequest, status, string(body))

	// the team lead decides high_cost_job; hardware_access still waits for an admin
	status, body = decide(t, srv, "lee-key", id, "approve", "fine")
	require.Equal(t, http.StatusOK, status, string(body))
	var v heldView
	require.NoError(t, json.Unmarshal(body, &v))
	assert.Equal(t, []string{"hardware_access"}, v.Pending)
	assert.Equal(t, "pending", v.Status)
	status, body = decide(t, srv, "lee-key", id, "approve", "again")
	assert.Equal(t, http.StatusForbidden, status, "nothing left for lee to decide: %s", body)

	// the admin (admin@example.com) decides both tiers' remaining step: released
	status, body = decide(t, srv, "root-key", id, "approve", "quarterly experiment")
	require.Equal(t, http.StatusOK, status, string(body))
	require.NoError(t, json.Unmarshal(body, &v))
	assert.Equal(t, "released", v.Status)
	assert.Equal(t, "approved and submitted to the backend", v.Reason, "not a refusal")
	require.NotNil(t, v.Upstream)
	upstreamID := v.Upstream.JobID
	require.NotEmpty(t, upstreamID)
	assert.NotEqual(t, id, upstreamID)

	status, body = decide(t, srv, "root-key", id, "reject", "too late")
	assert.Equal(t, http.StatusConflict, status)
	_, msg = errorCode(t, body)
	assert.Contains(t, msg, "approved and released by root")

	// the client's id follows the real job to its end
	require.Eventually(t, func() bool {
		j := upstreamJob(t, srv, "fatima-key", id)
		return j.ID == id && j.Status == runtimeapi.StatusCompleted
	}, 20*time.Second, 50*time.Millisecond)
	status, body = call(t, srv, "fatima-key", "GET", "/api/v1/jobs/"+id+"/results", "")
	assert.Equal(t, http.StatusOK, status, string(body))
	status, body = call(t, srv, "fatima-key", "GET", "/api/v1/jobs?limit=10", "")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(body), id)
	assert.NotContains(t, string(body), upstreamID, "the list shows the client's id")

	// the reservation followed the job: settled with its real usage
	// (seen ending above, or by the reconciler)
	_, err := gw.Reconcile(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		b := budget(t, srv)
		return b.ReservedUSD == 0 && b.SpentUSD > 0
	}, 10*time.Second, 50*time.Millisecond, "the released job's estimate is replaced by its cost")

	// its record, kept under the client's id, no longer names an open
	// reservation once a read saw the job end, so later reads need not look
	require.Eventually(t, func() bool {
		upstreamJob(t, srv, "fatima-key", id)
		rec, err := gw.Jobs.Refresh(context.Background(), "QR-ml", id)
		return err == nil && len(rec.Quota) == 0
	}, 10*time.Second, 100*time.Millisecond)
}

// budget reads the tenant's budget as fatima's usage view shows it.
func budget(t *testing.T, srv *httptest.Server) quota.BudgetView {
	status, body := call(t, srv, "fatima-key", "GET", "/api/v1/instances/usage", "")
	require.Equal(t, http.StatusOK, status, string(body))
	var usage struct {
		Qgov struct {
			Budgets []quota.BudgetView `json:"budgets"`
		} `json:"qgov"`
	}
	require.NoError(t, json.Unmarshal(body, &usage))
	require.Len(t, usage.Qgov.Budgets, 1)
	return usage.Qgov.Budgets[0]
}

// TestRejectionTimeoutAndCancellation: a rejected job ends Cancelled with
// the approver's comment, an undecided one with the timeout, a held job
// its submitter cancels ends at once; each gives its budget back.
func TestRejectionTimeoutAndCancellation(t *testing.T) {
	pr := newPolicyRig(t, examplePolicies(t), time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	st := openBolt(t, filepath.Join(t.TempDir(), "qgov.db"))
	defer st.Close()
	srv, gw := pr.gateway(t, st, "n1")

	rejected := submitHeld(t, srv)
	status, body := decide(t, srv, "root-key", rejected, "reject", "Budget concerns - please use simulator")
	require.Equal(t, http.StatusOK, status, string(body))
	j := upstreamJob(t, srv, "fatima-key", rejected)
	assert.Equal(t, runtimeapi.StatusCancelled, j.Status)
	assert.Equal(t, "rejected by root: Budget concerns - please use simulator", j.State.Reason)
	status, body = decide(t, srv, "lee-key", rejected, "approve", "")
	assert.Equal(t, http.StatusConflict, status, string(body))

	cancelled := submitHeld(t, srv)
	status, body = call(t, srv, "fatima-key", "POST", "/api/v1/jobs/"+cancelled+"/cancel", "")
	require.Equal(t, http.StatusNoContent, status, string(body))
	assert.Equal(t, "cancelled by fatima before approval", upstreamJob(t, srv, "fatima-key", cancelled).State.Reason)
	status, _ = call(t, srv, "fatima-key", "POST", "/api/v1/jobs/"+cancelled+"/cancel", "")
	assert.Equal(t, http.StatusConflict, status)

	late := submitHeld(t, srv)
	pr.clock.Add(9 * time.Hour) // hardware_access: 4 h, escalated to the admins for 4 h more, then rejected
	_, err := gw.Reconcile(context.Background())
	require.NoError(t, err)
	j = upstreamJob(t, srv, "fatima-key", late)
	assert.Equal(t, runtimeapi.StatusCancelled, j.Status)
	assert.Equal(t, "approval timed out: workflow hardware_access had no decision within 8 hours", j.State.Reason)

	b := budget(t, srv)
	assert.Zero(t, b.ReservedUSD, "every hold gave its reservation back")
	assert.Zero(t, b.SpentUSD)
}

// TestTwoReplicasRaceToRelease: two gateways sharing Redis, eight
// concurrent approvals of one job: one decides it, the job is forwarded
// once.
func TestTwoReplicasRaceToRelease(t *testing.T) {
	set, err := policy.Compile(nil, []policy.Workflow{{Name: "one_lead", Trigger: policy.Trigger{Condition: "estimated_cost_usd > 50"},
		Approvers: []policy.Target{{Role: "team_lead"}, {Role: "admin"}}}})
	require.NoError(t, err)
	pr := newPolicyRig(t, set, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	addr := testenv.Redis(t)
	var srvs [2]*httptest.Server
	var gws [2]*Gateway
	for i := range srvs {
		st := store.NewRedis(redis.NewClient(&redis.Options{Addr: addr}), "qgov:", 0)
		t.Cleanup(func() { _ = st.Close() })
		srvs[i], gws[i] = pr.gateway(t, st, fmt.Sprintf("n%d", i))
	}
	countUpstream := func() int {
		var list runtimeapi.JobList
		status, err := gws[0].upstreamJSON(context.Background(), pr.dir.Instance("QR-ml"), http.MethodGet, "/jobs?limit=1", &list)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		return list.Count
	}
	for round := 0; round < 3; round++ {
		resp, body := post(t, srvs[round%2], job("ibm_qgov_kestrel"))
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		var created runtimeapi.JobCreated
		require.NoError(t, json.Unmarshal(body, &created))
		before := countUpstream()
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := []string{"lee-key", "root-key"}[i%2]
				decision := "approve"
				if round == 2 && i%4 == 3 {
					decision = "reject" // concurrent approve and reject: one of them wins
				}
				status, _ := decide(t, srvs[i%2], key, created.ID, decision, "")
				mu.Lock()
				codes[status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		assert.Equal(t, 1, codes[http.StatusOK], "round %d: one decision wins: %v", round, codes)
		assert.Equal(t, 7, codes[http.StatusConflict], "round %d: %v", round, codes)
		st := upstreamJob(t, srvs[1], "fatima-key", created.ID)
		switch st.Status {
		case runtimeapi.StatusCancelled:
			assert.Equal(t, 2, round, "only the last round has rejections")
			assert.Equal(t, before, countUpstream(), "a rejected job is never forwarded")
		default:
			assert.Equal(t, before+1, countUpstream(), "round %d: forwarded exactly once", round)
		}
	}
}

// TestWorkflowRules: auto_approve_for forwards a senior researcher's job
// at once; max_approvals_per_day stops the sixth approval until midnight
// in the tenant's time zone; self-approval needs the tenant's consent.
func TestWorkflowRules(t *testing.T) {
	f, err := policy.LoadFile("../policy/testdata/policies.yaml")
	require.NoError(t, err)
	for i := range f.Workflows {
		if f.Workflows[i].Name == "priority_queue" {
			f.Workflows[i].MaxApprovalsPerDay = 2
		}
	}
	set, err := policy.Compile(nil, f.Workflows)
	require.NoError(t, err)
	pr := newPolicyRig(t, set, time.Date(2026, 11, 23, 22, 0, 0, 0, time.UTC))
	st := openBolt(t, filepath.Join(t.TempDir(), "qgov.db"))
	defer st.Close()
	srv, _ := pr.gateway(t, st, "n1")

	// sam is a senior researcher: hardware_access approves his job itself
	status, body := postAs(t, srv, "sam-key", job("ibm_qgov_eagle"))
	require.Equal(t, http.StatusOK, status, string(body))
	var created map[string]any
	require.NoError(t, json.Unmarshal(body, &created))
	assert.Nil(t, created["qgov"], "forwarded at once, not held")

	// his costly hardware job waits only for high_cost_job
	status, body = postAs(t, srv, "sam-key", job("ibm_qgov_kestrel", "experiment:x"))
	require.Equal(t, http.StatusOK, status, string(body))
	var costly struct {
		ID   string `json:"id"`
		Qgov struct {
			Workflows []string `json:"workflows"`
		} `json:"qgov"`
	}
	require.NoError(t, json.Unmarshal(body, &costly))
	assert.Equal(t, []string{"high_cost_job"}, costly.Qgov.Workflows)
	status, body = decide(t, srv, "lee-key", costly.ID, "approve", "")
	require.Equal(t, http.StatusOK, status, string(body))
	var v heldView
	require.NoError(t, json.Unmarshal(body, &v))
	assert.Equal(t, "released", v.Status, "hardware_access was approved when the job was held")
	assert.Equal(t, approval.Auto, v.Decisions[1].Decision)

	// sam's priority jobs: two approvals a day
	var held []string
	for i := 0; i < 3; i++ {
		status, body := postAs(t, srv, "sam-key", job("qgov_simulator", "priority:high"))
		require.Equal(t, http.StatusOK, status, string(body))
		var c runtimeapi.JobCreated
		require.NoError(t, json.Unmarshal(body, &c))
		held = append(held, c.ID)
	}
	for i, id := range held {
		status, body := decide(t, srv, "lee-key", id, "approve", "")
		if i < 2 {
			assert.Equal(t, http.StatusOK, status, string(body))
			continue
		}
		assert.Equal(t, http.StatusTooManyRequests, status)
		code, msg := errorCode(t, body)
		assert.Equal(t, "approval_limit_reached", code)
		assert.Contains(t, msg, "workflow priority_queue has granted its 2 approvals for 2026-11-23 in tenant default; it resets at midnight")
	}
	pr.clock.Add(3 * time.Hour) // a new day in UTC
	status, body = decide(t, srv, "lee-key", held[2], "approve", "")
	assert.Equal(t, http.StatusOK, status, string(body))

	// lee's own costly job: not without allow_self_approval
	status, body = postAs(t, srv, "lee-key", job("ibm_qgov_kestrel", "experiment:x"))
	require.Equal(t, http.StatusOK, status, string(body))
	var own runtimeapi.JobCreated
	require.NoError(t, json.Unmarshal(body, &own))
	status, body = decide(t, srv, "lee-key", own.ID, "approve", "")
	assert.Equal(t, http.StatusForbidden, status)
	code, _ := errorCode(t, body)
	assert.Equal(t, "self_approval_not_allowed", code)

	status, body = call(t, srv, "lee-key", "GET", "/governance/v1/approvals", "")
	require.Equal(t, http.StatusOK, status, string(body))
	var list struct {
		Approvals []heldView `json:"approvals"`
	}
	require.NoError(t, json.Unmarshal(body, &list))
	require.Len(t, list.Approvals, 1, "only lee's own job still waits")
	assert.Equal(t, own.ID, list.Approvals[0].JobID)
}

// TestHoldAnnouncementsKeepTheirIDs: announcing a hold's event again (a
// follow-up finished again, a release taken over) sends the same message
// id, so that receivers drop the repeat; another event, or another step
// of the same event, has its own.
func TestHoldAnnouncementsKeepTheirIDs(t *testing.T) {
	got := make(chan notify.Message, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var m notify.Message
		if json.NewDecoder(r.Body).Decode(&m) == nil {
			got <- m
		}
	}))
	defer hook.Close()
	dir, err := org.NewDirectory(org.Config{})
	require.NoError(t, err)
	g := New(Config{Directory: org.NewCurrent(dir), Notify: startNotifier(t, hook.URL)})
	st := approval.NewState(approval.Hold{ID: "held-1", Tenant: "lab", Steps: []policy.Workflow{{Name: "w", Notify: []string{"slack"}}}})
	for _, a := range []struct{ event, part, text string }{
		{"qgov.approval.released", "", "released"}, {"qgov.approval.released", "", "released, taken over"},
		{"qgov.approval.escalated", "0", "escalated 0"}, {"qgov.approval.escalated", "1", "escalated 1"},
	} {
		g.announceHold(t.Context(), st, a.event, a.part, a.text)
	}
	ids := map[string]string{}
	for range 4 {
		select {
		case m := <-got:
			ids[m.Text] = m.ID
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of 4 messages arrived", len(ids))
		}
	}
	assert.Equal(t, ids["released"], ids["released, taken over"], "a repeat is the same message")
	assert.NotEqual(t, ids["released"], ids["escalated 0"])
	assert.NotEqual(t, ids["escalated 0"], ids["escalated 1"])
	assert.Regexp(t, `^msg_[A-Z2-7]{26}$`, ids["released"])
}
