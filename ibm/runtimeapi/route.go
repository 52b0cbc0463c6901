package runtimeapi

import (
	"net/http"
	"strings"

	"github.com/qgov/qgov/internal/route"
)

// Action is an action of IBM's IAM vocabulary for Qiskit Runtime.
type Action string

// The actions the Runtime API's routes require.
const (
	ActionDeviceRead         Action = "quantum-computing.device.read"
	ActionInstanceRead       Action = "quantum-computing.instance.read"
	ActionInstanceUsageRead  Action = "quantum-computing.instance-usage.read"
	ActionInstanceConfigRead Action = "quantum-computing.instance.configuration.read"
	ActionInstanceConfigEdit Action = "quantum-computing.instance.configuration.update"
	ActionJobCreate          Action = "quantum-computing.job.create"
	ActionJobRead            Action = "quantum-computing.job.read"
	ActionJobCancel          Action = "quantum-computing.job.cancel"
	ActionJobDelete          Action = "quantum-computing.job.delete"
	ActionJobUpdate          Action = "quantum-computing.job.update"
	ActionSessionCreate      Action = "quantum-computing.session.create"
	ActionSessionRead        Action = "quantum-computing.session.read"
	ActionSessionUpdate      Action = "quantum-computing.session.update"
	ActionWorkloadList       Action = "quantum-computing.workload.list"
	ActionAnalyticsRead      Action = "quantum-computing.account-analytics-usage.read"
	ActionAnalyticsFilters   Action = "quantum-computing.account-analytics-filters.read"
	ActionAccountConfigRead  Action = "quantum-computing.account-configuration.read"
)

// Legacy returns the older program.* name of a job action (IBM's custom
// roles may still be written with them), or "" when there is none.
func (a Action) Legacy() Action {
	switch a {
	case ActionJobCreate:
		return "quantum-computing.program.create"
	case ActionJobRead:
		return "quantum-computing.program.read"
	case ActionJobCancel, ActionJobUpdate:
		return "quantum-computing.program.update"
	case ActionJobDelete:
		return "quantum-computing.program.delete"
	}
	return ""
}

// Actions lists every action by its current name.
var Actions = []Action{
	ActionDeviceRead, ActionInstanceRead, ActionInstanceUsageRead, ActionInstanceConfigRead, ActionInstanceConfigEdit,
	ActionJobCreate, ActionJobRead, ActionJobCancel, ActionJobDelete, ActionJobUpdate,
	ActionSessionCreate, ActionSessionRead, ActionSessionUpdate, ActionWorkloadList,
	ActionAnalyticsRead, ActionAnalyticsFilters, ActionAccountConfigRead,
}

// Expand returns the actions an action name stands for: the action
// itself, or for a legacy program.* name the job actions it covers. An
// unknown name gives nil.
func Expand(name string) []Action {
	var out []Action
	for _, a := range Actions {
		if string(a) == name || string(a.Legacy()) == name {
			out = append(out, a)
		}
	}
	return out
}

// Resource is the kind of object a route acts on.
type Resource string

// Resource kinds.
const (
	ResourceInstance Resource = "instance"
	ResourceBackend  Resource = "backend"
	ResourceJob      Resource = "job"
	ResourceSession  Resource = "session"
	ResourceAccount  Resource = "account"
)

// Route is a classified Runtime API request.
type Route struct {
	// Action is the IBM action the request needs; "" for a route outside
	// the API model, which the gateway refuses.
	Action Action
	// Resource is the kind of object acted on, and ID names it (job id,
	// session id, backend name); ID is "" for collections.
	Resource Resource
	ID       string
	// Results marks a read of a job's results, interim results or
	// transpiled circuits, which roles may grant apart from other reads.
	Results bool
}

// Known reports whether the route is part of the API model.
func (r Route) Known() bool { return r.Action != "" }

// Prefixes are the API's base paths: IBM's, and the one clients reach by
// putting "experimental" in their URL (used verbatim by
// qiskit-ibm-runtime).
var Prefixes = []string{"/api/v1", "/experimental/api/v1"}

// Routes are the Runtime API's routes, below each of Prefixes, with the
// IBM action each needs and the kind of object it acts on; {id} names the
// object (job id, session id, backend name, account id).
var Routes = []route.Route[Route]{
	{Pattern: "GET /backends", Value: Route{Action: ActionDeviceRead, Resource: ResourceInstance}},
	{Pattern: "GET /backends/{id}/configuration", Value: Route{Action: ActionDeviceRead, Resource: ResourceBackend}},
	{Pattern: "GET /backends/{id}/properties", Value: Route{Action: ActionDeviceRead, Resource: ResourceBackend}},
	{Pattern: "GET /backends/{id}/status", Value: Route{Action: ActionDeviceRead, Resource: ResourceBackend}},
	{Pattern: "GET /backends/{id}/defaults", Value: Route{Action: ActionDeviceRead, Resource: ResourceBackend}},
	{Pattern: "GET /instance", Value: Route{Action: ActionInstanceRead, Resource: ResourceInstance}},
	{Pattern: "GET /instances/usage", Value: Route{Action: ActionInstanceUsageRead, Resource: ResourceInstance}},
	{Pattern: "GET /instances/configuration", Value: Route{Action: ActionInstanceConfigRead, Resource: ResourceInstance}},
	{Pattern: "PUT /instances/configuration", Value: Route{Action: ActionInstanceConfigEdit, Resource: ResourceInstance}},
	{Pattern: "POST /jobs", Value: Route{Action: ActionJobCreate, Resource: ResourceInstance}},
	{Pattern: "GET /jobs", Value: Route{Action: ActionJobRead, Resource: ResourceInstance}},
	{Pattern: "GET /jobs/{id}", Value: Route{Action: ActionJobRead, Resource: ResourceJob}},
	{Pattern: "DELETE /jobs/{id}", Value: Route{Action: ActionJobDelete, Resource: ResourceJob}},
	{Pattern: "GET /jobs/{id}/results", Value: Route{Action: ActionJobRead, Resource: ResourceJob, Results: true}},
	{Pattern: "GET /jobs/{id}/interim_results", Value: Route{Action: ActionJobRead, Resource: ResourceJob, Results: true}},
	{Pattern: "GET /jobs/{id}/transpiled_circuits", Value: Route{Action: ActionJobRead, Resource: ResourceJob, Results: true}},
	{Pattern: "GET /jobs/{id}/logs", Value: Route{Action: ActionJobRead, Resource: ResourceJob}},
	{Pattern: "GET /jobs/{id}/metrics", Value: Route{Action: ActionJobRead, Resource: ResourceJob}},
	{Pattern: "POST /jobs/{id}/cancel", Value: Route{Action: ActionJobCancel, Resource: ResourceJob}},
	{Pattern: "PUT /jobs/{id}/tags", Value: Route{Action: ActionJobUpdate, Resource: ResourceJob}},
	{Pattern: "POST /sessions", Value: Route{Action: ActionSessionCreate, Resource: ResourceInstance}},
	{Pattern: "GET /sessions/{id}", Value: Route{Action: ActionSessionRead, Resource: ResourceSession}},
	{Pattern: "PATCH /sessions/{id}", Value: Route{Action: ActionSessionUpdate, Resource: ResourceSession}},
	{Pattern: "DELETE /sessions/{id}/close", Value: Route{Action: ActionSessionUpdate, Resource: ResourceSession}},
	{Pattern: "GET /workloads", Value: Route{Action: ActionWorkloadList, Resource: ResourceInstance}},
	{Pattern: "GET /analytics/filters", Value: Route{Action: ActionAnalyticsFilters, Resource: ResourceAccount}},
	{Pattern: "GET /analytics/usage", Value: Route{Action: ActionAnalyticsRead, Resource: ResourceAccount}},
	{Pattern: "GET /analytics/usage_grouped", Value: Route{Action: ActionAnalyticsRead, Resource: ResourceAccount}},
	{Pattern: "GET /analytics/usage_grouped_by_date", Value: Route{Action: ActionAnalyticsRead, Resource: ResourceAccount}},
	{Pattern: "GET /accounts/{id}", Value: Route{Action: ActionAccountConfigRead, Resource: ResourceAccount}},
}

// table is Routes below each of Prefixes.
var table = func() *route.Table[Route] {
	var all []route.Route[Route]
	for _, prefix := range Prefixes {
		for _, rt := range Routes {
			method, path, _ := strings.Cut(rt.Pattern, " ")
			all = append(all, route.Route[Route]{Pattern: method + " " + prefix + path, Value: rt.Value})
		}
	}
	return route.New(all)
}()

// Classify maps a request below one of Prefixes to its route: the action
// it needs and the object it acts on. A request outside Routes gets the
// zero Route, which is not Known.
func Classify(r *http.Request) Route {
	rt, result := table.Match(r)
	if result != route.Found {
		return Route{}
	}
	rt.ID = r.PathValue("id")
	return rt
}
