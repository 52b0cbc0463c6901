package gateway

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/qgov/qgov/approval"
	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/jobs"
	"github.com/qgov/qgov/notify"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/store"
)

// orphanAfter is how long a replica may take to finish a submission or
// a release: one still unfinished after this is finished by another even
// if its replica still runs.
const orphanAfter = 10 * time.Minute

// Reconciler follows admitted jobs upstream and settles their
// reservations when they end. One replica at a time does it: the one
// holding the store's lease.
type Reconciler struct {
	Gateway *Gateway
	// Store holds the lease; Node names this replica in it.
	Store store.Store
	Node  string
	// Nodes records, every interval, that this replica runs.
	Nodes store.Nodes
	// Interval is the time between passes.
	Interval time.Duration
	// Leader, when set, tells whether this replica holds the lease (a
	// metric).
	Leader *atomic.Bool
}

// leaseName is the store lease of the reconciler.
const leaseName = "quota-reconciler"

// Run reconciles every Interval until ctx ends, then releases the lease.
// The replica's beat and the lease are renewed on their own schedule, so
// a long pass (slow upstream calls) neither makes this replica look
// stopped nor lets its lease lapse under it.
func (rc *Reconciler) Run(ctx context.Context) {
	// the lease's holder is this run, not only this replica: a reload's
	// new run must not renew, nor its old run release, the other's lease
	holder := rc.Node + "/" + rand.Text()[:8]
	var holding atomic.Bool
	released := make(chan struct{})
	defer func() { <-released }()
	go func() {
		defer close(released)
		tick := time.NewTicker(rc.Interval)
		defer tick.Stop()
		for {
			if err := rc.Nodes.Beat(ctx, rc.Node); err != nil && ctx.Err() == nil {
				rc.Gateway.Logger.Warn("recording that this replica runs", "error", err)
			}
			held, err := store.Lease(ctx, rc.Store, leaseName, holder, 3*rc.Interval)
			holding.Store(err == nil && held)
			if rc.Leader != nil {
				rc.Leader.Store(holding.Load())
			}
			select {
			case <-ctx.Done():
				if rc.Leader != nil {
					rc.Leader.Store(false)
				}
				if holding.Load() { // another replica need not wait for it to expire
					release, cancel := context.WithTimeout(context.WithoutCancel(ctx), rc.Interval)
					if err := store.Release(release, rc.Store, leaseName, holder); err != nil {
						rc.Gateway.Logger.Warn("releasing the reconciler's lease", "error", err)
					}
					cancel()
				}
				return
			case <-tick.C:
			}
		}
	}()
	tick := time.NewTicker(rc.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !holding.Load() {
			continue
		}
		if _, err := rc.Gateway.Reconcile(ctx); err != nil {
			rc.Gateway.Logger.Warn("reconciling job reservations", "error", err)
		}
	}
}

// Reconcile makes one pass over the held jobs and the open reservations
// of every tenant with an instance: a held job whose approval timed out
// is ended (an escalation announced), and a job that ended upstream has its reservation
// settled with its actual usage and recorded in the audit trail. It
// returns how many reservations it settled.
func (g *Gateway) Reconcile(ctx context.Context) (int, error) {
	var tenants []string
	for _, in := range g.Directory.Load().Instances() {
		if !slices.Contains(tenants, in.Tenant) {
			tenants = append(tenants, in.Tenant)
		}
	}
	g.settling.Clear()
	settled := 0
	var firstErr error
	for _, t := range tenants {
		if err := g.sweepHolds(ctx, t); err != nil && firstErr == nil {
			firstErr = err
		}
		open, err := g.Quota.Open(ctx, t)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		for _, r := range open {
			done, err := g.reconcile(ctx, r)
			if err != nil {
				g.Logger.Warn("reconciling a job", "job", r.JobID, "reservation", r.ID, "error", err)
				continue
			}
			if done {
				settled++
			}
		}
	}
	return settled, firstErr
}

// reconcile settles one reservation when its job has ended. A
// reservation that never learnt its job's id is a submission whose
// replica stopped mid-way: it is finished (followSubmission), and a held
// job's reservation follows its hold.
func (g *Gateway) reconcile(ctx context.Context, r quota.Reservation) (bool, error) {
	in := g.Directory.Load().Instance(r.Instance)
	if in == nil {
		return false, fmt.Errorf("instance %q is no longer configured", r.Instance)
	}
	switch {
	case r.JobID == "" && r.Hold != "":
		return false, g.followHeldReservation(ctx, r)
	case r.JobID == "" && r.Node == "": // admitted before submissions were tracked: it may have run
		if g.Now().Sub(r.Admitted) < orphanAfter {
			return false, nil
		}
		return g.settle(ctx, r, usage{ended: true, estimate: true,
			why: "its submission was never answered (the gateway stopped while forwarding it): charged its estimate"})
	case r.JobID == "":
		if !g.orphaned(ctx, r.Node, r.Admitted, r.ID) {
			return false, nil
		}
		return g.followSubmission(ctx, in, r)
	}
	u, err := g.jobUsage(ctx, in, r.JobID)
	if err != nil || !u.ended {
		return false, err
	}
	return g.settle(ctx, r, u)
}

// followHeldReservation makes the reservation of a held job follow its
// hold once the hold's follow-up is done: bound to the released job, or
// released when the job will not run. A reservation whose hold was never
// recorded (its replica stopped while holding it) is released.
func (g *Gateway) followHeldReservation(ctx context.Context, r quota.Reservation) error {
	if g.Approvals == nil {
		return nil
	}
	st, err := g.Approvals.Get(ctx, r.Hold)
	switch {
	case errors.Is(err, approval.ErrNotFound):
		if !g.orphaned(ctx, r.Node, r.Admitted, r.ID) {
			return nil
		}
		return g.Quota.Release(ctx, r)
	case err != nil:
		return err
	case st.Fate == nil, st.Fate.Fate == approval.Released && st.Upstream == nil: // undecided, or its release is unfinished
		return nil
	case st.Fate.Fate != approval.Released:
		return g.Quota.Release(ctx, r)
	}
	return g.bindRelease(ctx, st)
}

// usage is what the upstream says of an admitted job: whether it has
// ended, with what status, and the quantum seconds it was charged.
type usage struct {
	ended   bool
	status  string
	seconds float64
	// estimate charges the job its estimate: its usage cannot be read
	// (it vanished upstream, or would not end when cancelled).
	estimate bool
	why      string
}

// jobUsage reads a job's status and, once it has ended, its metrics. A job
// the upstream no longer knows has ended with its usage unread: it is
// charged its estimate, never nothing.
func (g *Gateway) jobUsage(ctx context.Context, in *org.Instance, jobID string) (usage, error) {
	var job runtimeapi.Job
	status, err := g.upstreamJSON(ctx, in, http.MethodGet, "/jobs/"+jobID+"?exclude_params=true", &job)
	switch {
	case err != nil:
		return usage{}, err
	case status == http.StatusNotFound:
		return usage{ended: true, estimate: true, why: "the job vanished upstream before its usage was read: charged its estimate"}, nil
	case status != http.StatusOK:
		return usage{}, fmt.Errorf("upstream answered %d for job %s", status, jobID)
	}
	u := usage{status: cmp.Or(job.Status, job.State.Status)}
	if !runtimeapi.Final(u.status) {
		return u, nil
	}
	var m runtimeapi.JobMetrics
	if st, err := g.upstreamJSON(ctx, in, http.MethodGet, "/jobs/"+jobID+"/metrics", &m); err != nil || st != http.StatusOK {
		return usage{}, fmt.Errorf("reading the metrics of job %s: status %d, %v", jobID, st, err)
	}
	u.ended, u.seconds = true, max(m.Usage.QPUChargeTimeSeconds, m.Usage.QuantumSeconds)
	u.why = "job " + u.status + "; its reservation was settled with its actual usage"
	return u, nil
}

// settle closes a job's reservation with its usage and records it; a
// reservation settled already (by another replica) is left as it is.
// It reports whether the reservation is closed.
func (g *Gateway) settle(ctx context.Context, r quota.Reservation, u usage) (bool, error) {
	seconds := u.seconds
	if u.estimate {
		seconds = r.EstimateSeconds()
	}
	ok, err := g.Quota.Settle(ctx, r, seconds)
	if err != nil || !ok {
		return err == nil, err
	}
	g.auditEvent(ctx, &audit.Record{Action: audit.ActionJobUsage, Outcome: audit.Success, TenantID: r.Tenant, UserID: r.User, KeyID: r.KeyID,
		InitiatorAuthnName: "reconciler", Project: r.Project, Instance: r.Instance, UpstreamJobID: r.JobID,
		Resource: audit.Resource{Type: "quantum_job", ID: r.JobID},
		Request: &audit.Request{Backend: r.Backend, EstimatedCostUSD: float64(r.EstimateMicros) / 1e6,
			CostUSD: seconds * r.Price, QuantumSeconds: seconds},
		Note: u.why})
	return true, nil
}

// settleBeforeDelete settles the reservation of a job about to be
// deleted, from its usage, before the delete is forwarded: a deleted job
// cannot be read afterwards, so deleting cannot dodge its charge. A job
// still running is cancelled first; one that will not end is charged
// its estimate.
func (g *Gateway) settleBeforeDelete(q *request, rec jobs.Record) *denial.Denial {
	var r quota.Reservation
	if len(rec.Quota) == 0 || json.Unmarshal(rec.Quota, &r) != nil || r.ID == "" || r.JobID == "" {
		return nil
	}
	ctx := q.r.Context()
	u, err := g.jobUsage(ctx, q.in, r.JobID)
	if err == nil && !u.ended {
		if _, err = g.upstreamJSON(ctx, q.in, http.MethodPost, "/jobs/"+r.JobID+"/cancel", nil); err == nil {
			u, err = g.jobUsage(ctx, q.in, r.JobID)
		}
		if err == nil && !u.ended {
			u = usage{ended: true, estimate: true, why: "deleted while " + u.status + ", after a cancel it did not end: charged its estimate"}
		}
	}
	if err == nil {
		_, err = g.settle(ctx, r, u)
	}
	if err != nil {
		g.Logger.Error("settling a job before its delete", "job", r.JobID, "error", err)
		return &denial.Denial{Code: "store_unavailable", RetryAfter: 5,
			Message: "the gateway cannot settle this job's charge before deleting it right now; nothing was deleted, retry shortly"}
	}
	return nil
}

// watchEnd forwards a read or cancel of a job whose reservation is open
// and, when the answer shows the job ended (its status final, or the
// cancel accepted), settles the reservation at once instead of at the
// reconciler's next pass: a client polling its job frees its place as
// soon as it sees the result.
func (g *Gateway) watchEnd(q *request, rec jobs.Record) Decision {
	c, ferr := g.forwardCaptured(q, nil, q.body)
	if ferr != nil {
		return Deny(q.w, *q.d, ferr)
	}
	c.replay(q.w, nil)
	q.d.Outcome = "allowed"
	var job runtimeapi.Job
	switch {
	case c.status < 200 || c.status > 299:
	case q.route.Action == runtimeapi.ActionJobCancel,
		json.Unmarshal(c.body.Bytes(), &job) == nil && runtimeapi.Final(cmp.Or(job.Status, job.State.Status)):
		g.settleSoon(rec)
	}
	return *q.d
}

// settleSoon settles the reservation of a job seen to end, in the
// background; each job once per replica (Settle is idempotent across
// replicas).
func (g *Gateway) settleSoon(rec jobs.Record) {
	var r quota.Reservation
	if len(rec.Quota) == 0 || json.Unmarshal(rec.Quota, &r) != nil || r.ID == "" {
		return
	}
	if _, seen := g.settling.LoadOrStore(r.ID, true); seen {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done, err := g.reconcile(ctx, r)
		if err != nil || !done {
			if err != nil {
				g.Logger.Warn("settling an ended job", "job", r.JobID, "error", err)
			}
			g.settling.Delete(r.ID) // the reconciler, a later read or a delete settles it
			return
		}
		// later reads of the job need not look again; the record is only
		// updated if still there, as another replica may have deleted the
		// job meanwhile
		if cur, err := g.Jobs.Refresh(ctx, rec.Instance, rec.ID); err == nil {
			cur.Quota = nil
			if _, err := g.Jobs.Update(ctx, cur); err != nil {
				g.Logger.Warn("updating a settled job's record", "job", rec.ID, "error", err)
			}
		}
	}()
}

// upstreamTimeout bounds a call the gateway makes upstream on its own
// (a job's status or metrics, a look-up by tag, a released job's
// forward): well under orphanAfter, so a forward in hand has ended
// before anyone takes it over.
const upstreamTimeout = time.Minute

// upstreamJSON calls the instance's upstream with its credentials and
// reads a JSON answer into v (nil: the answer is not read).
func (g *Gateway) upstreamJSON(ctx context.Context, in *org.Instance, method, path string, v any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, method, runtimeapi.Prefixes[0]+path, nil)
	if err != nil {
		return 0, err
	}
	c, ferr := g.forwardCaptured(&request{r: r, rest: strings.TrimPrefix(r.URL.Path, runtimeapi.Prefixes[0]), in: in}, nil, nil)
	if ferr != nil {
		return 0, ferr
	}
	if c.status == http.StatusOK && v != nil {
		if err := json.Unmarshal(c.body.Bytes(), v); err != nil {
			return c.status, fmt.Errorf("decoding %s: %w", path, err)
		}
	}
	return c.status, nil
}

// auditEvent writes a record the gateway makes on its own (not for a
// request) to the audit trail.
func (g *Gateway) auditEvent(ctx context.Context, rec *audit.Record) error {
	if g.Audit == nil {
		return nil
	}
	t, err := g.Audit.Reserve(ctx)
	if err != nil {
		g.Logger.Error("audit trail full: record dropped", "action", rec.Action, "error", err)
		return fmt.Errorf("recording %s: %w", rec.Action, err)
	}
	defer t.Release()
	if err := t.Commit(rec); err != nil { // queued: written once the trail can
		g.Logger.Error("audit record not yet durable", "action", rec.Action, "error", err)
	}
	return nil
}

// BudgetAlert records a budget alert in the audit trail and sends it to
// the tenant's notification channels when the tenant asks for budget
// warnings.
func (g *Gateway) BudgetAlert(a quota.Alert) {
	action, what := audit.ActionBudgetAlert, fmt.Sprintf("reached %d%% of its", a.Percent)
	if a.Exceeded {
		action, what = audit.ActionBudgetOver, "refused a job: it would exceed its"
	}
	text := fmt.Sprintf("The budget of %s %s %s monthly limit of USD %.2f for %s (USD %.2f spent or reserved).",
		a.Scope, a.Name, what, a.LimitUSD, a.Period, a.UsedUSD)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec := &audit.Record{Action: action, Outcome: audit.Success, TenantID: a.Tenant, InitiatorAuthnName: "quota",
		Resource: audit.Resource{Type: "budget", ID: a.Scope + "/" + a.Name}, Note: text}
	if a.Scope == quota.ScopeProject {
		rec.Project = a.Name
	}
	g.auditEvent(ctx, rec)
	s := g.Directory.Load().Settings(a.Tenant)
	if g.Notify != nil && s.NotifyOnBudgetWarning {
		g.Notify.Send(ctx, s.NotificationChannels, notify.Message{Event: action, Tenant: a.Tenant, Text: text, Data: map[string]any{
			"scope": a.Scope, "name": a.Name, "period": a.Period, "percent": a.Percent, "used_usd": a.UsedUSD, "limit_usd": a.LimitUSD}})
	}
}
