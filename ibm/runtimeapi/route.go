package runtimeapi

import (
	"slices"
	"strings"
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

// Classify maps a method and a path relative to the API base (for example
// "/jobs/abc/results") to its action and resource.
func Classify(method, path string) Route {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	for _, s := range seg {
		if s == "" || s == "." || s == ".." {
			return Route{}
		}
	}
	is := func(m string, n int) bool { return method == m && len(seg) == n }
	switch seg[0] {
	case "backends":
		switch {
		case is("GET", 1):
			return Route{Action: ActionDeviceRead, Resource: ResourceInstance, ID: ""}
		case is("GET", 3) && slices.Contains([]string{"configuration", "properties", "status", "defaults"}, seg[2]):
			return Route{Action: ActionDeviceRead, Resource: ResourceBackend, ID: seg[1]}
		}
	case "instance":
		if is("GET", 1) {
			return Route{Action: ActionInstanceRead, Resource: ResourceInstance, ID: ""}
		}
	case "instances":
		switch {
		case is("GET", 2) && seg[1] == "usage":
			return Route{Action: ActionInstanceUsageRead, Resource: ResourceInstance, ID: ""}
		case is("GET", 2) && seg[1] == "configuration":
			return Route{Action: ActionInstanceConfigRead, Resource: ResourceInstance, ID: ""}
		case is("PUT", 2) && seg[1] == "configuration":
			return Route{Action: ActionInstanceConfigEdit, Resource: ResourceInstance, ID: ""}
		}
	case "jobs":
		return classifyJob(method, seg)
	case "sessions":
		switch {
		case is("POST", 1):
			return Route{Action: ActionSessionCreate, Resource: ResourceInstance, ID: ""}
		case is("GET", 2):
			return Route{Action: ActionSessionRead, Resource: ResourceSession, ID: seg[1]}
		case is("PATCH", 2), is("DELETE", 3) && seg[2] == "close":
			return Route{Action: ActionSessionUpdate, Resource: ResourceSession, ID: seg[1]}
		}
	case "workloads":
		if is("GET", 1) {
			return Route{Action: ActionWorkloadList, Resource: ResourceInstance, ID: ""}
		}
	case "analytics":
		if is("GET", 2) && seg[1] == "filters" {
			return Route{Action: ActionAnalyticsFilters, Resource: ResourceAccount, ID: ""}
		}
		if is("GET", 2) && slices.Contains([]string{"usage", "usage_grouped", "usage_grouped_by_date"}, seg[1]) {
			return Route{Action: ActionAnalyticsRead, Resource: ResourceAccount, ID: ""}
		}
	case "accounts":
		if is("GET", 2) {
			return Route{Action: ActionAccountConfigRead, Resource: ResourceAccount, ID: seg[1]}
		}
	}
	return Route{}
}

func classifyJob(method string, seg []string) Route {
	switch {
	case len(seg) == 1 && method == "POST":
		return Route{Action: ActionJobCreate, Resource: ResourceInstance, ID: ""}
	case len(seg) == 1 && method == "GET":
		return Route{Action: ActionJobRead, Resource: ResourceInstance, ID: ""}
	case len(seg) == 2 && method == "GET":
		return Route{Action: ActionJobRead, Resource: ResourceJob, ID: seg[1]}
	case len(seg) == 2 && method == "DELETE":
		return Route{Action: ActionJobDelete, Resource: ResourceJob, ID: seg[1]}
	case len(seg) == 3 && method == "GET" && slices.Contains([]string{"results", "interim_results", "transpiled_circuits"}, seg[2]):
		return Route{Action: ActionJobRead, Resource: ResourceJob, ID: seg[1], Results: true}
	case len(seg) == 3 && method == "GET" && slices.Contains([]string{"logs", "metrics"}, seg[2]):
		return Route{Action: ActionJobRead, Resource: ResourceJob, ID: seg[1]}
	case len(seg) == 3 && method == "POST" && seg[2] == "cancel":
		return Route{Action: ActionJobCancel, Resource: ResourceJob, ID: seg[1]}
	case len(seg) == 3 && method == "PUT" && seg[2] == "tags":
		return Route{Action: ActionJobUpdate, Resource: ResourceJob, ID: seg[1]}
	}
	return Route{}
}
