package gateway

import (
	"fmt"
	"slices"
	"strings"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/jobs"
	"github.com/qgov/qgov/rbac"
)

// creates reports whether a project's roles allow a capability; for job
// creation, simulator-only submission counts (the backend is checked
// once the job is read).
func creates(s rbac.Set, c rbac.Capability) bool {
	return s.Has(c) || (c == rbac.JobCreate && s.Has(rbac.JobCreateSimulator))
}

// authorize is the RBAC step: some role of the caller's projects on the
// instance must grant the route's capability. Which project, and for a
// job or session whether its scope covers that object, is decided when
// the job is decoded or the object's record read.
func (q *request) authorize() *denial.Denial {
	for _, pa := range q.reach.List {
		if creates(pa.Set, q.cap) {
			return q.seesWorkloads()
		}
	}
	return q.lacks("")
}

// seesWorkloads refuses GET /workloads to a caller who may not see every
// job and session of the instance: the upstream lists them all, with no
// owner to filter by.
func (q *request) seesWorkloads() *denial.Denial {
	if q.route.Action != runtimeapi.ActionWorkloadList {
		return nil
	}
	for _, pa := range q.reach.List {
		if pa.Set.Scope(rbac.JobRead) == rbac.Tenant && pa.Set.Scope(rbac.SessionRead) == rbac.Tenant {
			return nil
		}
	}
	return denial.New("permission_denied",
		fmt.Sprintf("user %s may not list the workloads of instance %s: the list holds every job and session on it, so it needs job:view:tenant and session:view:tenant (role admin); %s",
			q.p.UserID, q.in.Alias, q.reach.Explain("")))
}

// lacks is the denial for a capability no role grants: it names the
// permission, the IBM action and the roles the caller holds.
func (q *request) lacks(project string) *denial.Denial {
	where := "on instance " + q.in.Alias
	if project != "" {
		where = "in project " + project + " on instance " + q.in.Alias
	}
	return denial.New("permission_denied",
		fmt.Sprintf("user %s lacks %s %s: it needs the permission %s; %s", q.p.UserID, q.route.Action, where,
			rbac.CapabilityName(q.cap), q.reach.Explain(project)))
}

// sees reports whether the caller may see an owned object: one of their
// tenant that a role's scope of readCap covers.
func (q *request) sees(rec jobs.Record, readCap rbac.Capability) bool {
	return rec.Tenant == q.p.Tenant && q.reach.Allows(readCap, rec.Project, rec.Owner, q.p.UserID)
}

// mayAct checks the route's capability over a visible object; a role
// holding it only over the caller's own objects is named in the denial.
func (q *request) mayAct(kind string, rec jobs.Record) *denial.Denial {
	if q.reach.Allows(q.cap, rec.Project, rec.Owner, q.p.UserID) {
		return nil
	}
	if pa := q.reach.Project(rec.Project); pa != nil && pa.Set.Scope(q.cap) == rbac.Own {
		return denial.New("permission_denied",
			fmt.Sprintf("user %s may not %s %s %s: the permission %s:own covers only their own %ss, and this one is %s's; %s",
				q.p.UserID, q.route.Action, kind, rec.ID, rbac.CapabilityName(q.cap), kind, rec.Owner, q.reach.Explain(rec.Project)))
	}
	return q.lacks(rec.Project)
}

// mayCreate picks the project of a new job or session and checks that
// its roles allow the creation with that backend.
func (q *request) mayCreate(tags []string, backend string) (string, *denial.Denial) {
	project, err := chooseProject(q, tags)
	if err != nil {
		return "", err
	}
	if pa := q.reach.Project(project); pa == nil || !creates(pa.Set, q.cap) {
		return project, q.lacks(project)
	}
	return project, q.checkBackend(project, backend)
}

// checkBackend applies the instance's backend allow-list and, for a
// project whose roles allow only simulator jobs, that rule.
func (q *request) checkBackend(project, backend string) *denial.Denial {
	if backend == "" {
		return nil
	}
	if len(q.in.Backends) > 0 && !slices.Contains(q.in.Backends, backend) {
		return denial.New("backend_not_allowed",
			fmt.Sprintf("instance %s does not allow backend %q (rule: the instance's backends %s)", q.in.Alias, backend, strings.Join(q.in.Backends, ", ")))
	}
	if q.cap != rbac.JobCreate {
		return nil
	}
	if pa := q.reach.Project(project); pa != nil && !pa.Set.Has(rbac.JobCreate) && !runtimeapi.IsSimulator(backend) {
		return denial.New("simulator_only",
			fmt.Sprintf("user %s may submit only to simulators in project %s (permission job:submit:simulator_only), and %q is not one; %s",
				q.p.UserID, project, backend, q.reach.Explain(project)))
	}
	return nil
}
