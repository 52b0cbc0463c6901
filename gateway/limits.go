package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/rbac"
)

// PriorityHeader asks for the priority queue ("high"); so does the job
// tag "priority:high".
const PriorityHeader = "Qgov-Priority"

// caller is the request's caller as limits see them, in a project.
func (q *request) caller(project string) quota.Caller {
	c := quota.Caller{Tenant: q.p.Tenant, Project: project, User: q.p.UserID, KeyID: q.p.KeyID, KeyRate: q.p.RateLimit}
	if pa := q.reach.Project(project); pa != nil {
		for _, r := range pa.Roles {
			c.Roles = append(c.Roles, quota.RoleLimits{Role: r.Name, Limits: r.Limits})
		}
	}
	return c
}

// checkRate is the limits step of a request that submits no job: it
// counts against the caller's requests per minute.
func (g *Gateway) checkRate(q *request) *denial.Denial {
	h, err := g.Quota.CheckRate(q.r.Context(), q.caller(q.d.Project))
	if err != nil {
		return err
	}
	maps.Copy(q.w.Header(), h)
	return nil
}

// precheck is the limits step of a job submission before its body is
// read: its request rate is counted and its room for one more job
// checked, in the project the Qgov-Project header names or else the
// caller's first project on the instance that may submit (the job's tags
// are not read yet; its admission uses the project they choose).
func (g *Gateway) precheck(q *request) *denial.Denial {
	project, err := chooseProject(q, nil)
	if err != nil {
		return err
	}
	priority := strings.EqualFold(strings.TrimSpace(q.r.Header.Get(PriorityHeader)), "high")
	_, err = g.Quota.Precheck(q.r.Context(), q.caller(project), priority)
	return err
}

// admit is the limits step of a job submission: its size, backend,
// counts and estimated cost, all checked and counted together.
func (g *Gateway) admit(q *request, sub *runtimeapi.Submission, priority bool) (*quota.Admission, *denial.Denial) {
	start := time.Now()
	defer g.observe(q.r.Context(), StepAdmission, start)
	a, err := g.Quota.Admit(q.r.Context(), quota.Job{Caller: q.caller(q.d.Project), Instance: q.in.Alias,
		Backend: sub.Backend, Priority: priority, Sub: sub, RateCounted: true, Node: g.Node})
	if err != nil {
		return nil, err
	}
	q.d.request.EstimatedCostUSD = a.Estimate.USD
	if a.Note != "" {
		q.d.note(a.Note)
	}
	maps.Copy(q.w.Header(), a.Header)
	return a, nil
}

// priority reports whether a submission asks for the priority queue,
// and refuses it to callers and tenants that may not use it.
func (g *Gateway) priority(q *request, sub *runtimeapi.Submission) (bool, *denial.Denial) {
	priority := strings.EqualFold(strings.TrimSpace(q.r.Header.Get(PriorityHeader)), "high") || slices.Contains(sub.Tags, "priority:high")
	if priority {
		pa := q.reach.Project(q.d.Project)
		if pa == nil || !pa.Set.Has(rbac.PriorityHigh) {
			return false, denial.New("priority_not_allowed", fmt.Sprintf(
				"user %s may not use the priority queue in project %s: it needs the permission job:priority:high; %s",
				q.p.UserID, q.d.Project, q.reach.Explain(q.d.Project)))
		}
		if !g.Directory.Load().Settings(q.p.Tenant).AllowPriorityQueue {
			return false, denial.New("priority_not_allowed", fmt.Sprintf(
				"tenant %s does not allow the priority queue (rule: the tenant setting allow_priority_queue)", q.p.Tenant))
		}
	}
	return priority, nil
}

// releaseAdmission gives back what an admission counted when the
// upstream refused the job, or it was never sent.
func (g *Gateway) releaseAdmission(ctx context.Context, a *quota.Admission) {
	if a == nil || a.ID == "" {
		return
	}
	if err := g.Quota.Release(ctx, a.Reservation); err != nil {
		g.Logger.Error("releasing a job's reservation", "reservation", a.ID, "error", err)
	}
}

// usage answers GET /instances/usage: the upstream's document of the
// instance with the caller's budgets and limits added under "qgov". A
// budget with nothing left marks usage_limit_reached, which the Qiskit
// client shows as a warning before submitting.
func (g *Gateway) usage(q *request) Decision {
	c, ferr := g.forwardCaptured(q, nil, nil)
	if ferr != nil {
		return Deny(q.w, *q.d, ferr)
	}
	var doc map[string]any
	if c.status != http.StatusOK || json.Unmarshal(c.body.Bytes(), &doc) != nil {
		c.replay(q.w, nil)
		q.d.Outcome = "allowed"
		return *q.d
	}
	u, err := g.Quota.Usage(q.r.Context(), q.caller(q.d.Project))
	if err != nil {
		g.Logger.Warn("reading budgets for a usage view", "error", err)
	} else {
		doc["qgov"] = map[string]any{"project": q.d.Project, "budgets": u.Budgets, "limits": u.Limits}
		for _, b := range u.Budgets {
			if b.RemainingUSD <= 0 {
				doc["usage_limit_reached"] = true
			}
		}
	}
	body, _ := json.Marshal(doc)
	c.replay(q.w, body)
	q.d.Outcome = "allowed"
	return *q.d
}
