package rbac

import (
	"fmt"
	"sort"
	"strings"
)

// Scope is how far a capability reaches over objects.
type Scope uint8

// Scopes, narrowest first.
const (
	// None: not held.
	None Scope = iota
	// Own: objects the user created.
	Own
	// Project: objects of the project the grant is for.
	Project
	// Tenant: every object of the tenant.
	Tenant
)

var scopeNames = [...]string{"none", "own", "project", "tenant"}

func (s Scope) String() string { return scopeNames[s] }

// parseScope reads a permission's last field; "team" is IBM's enterprise-governance word
// for a project.
func parseScope(s string) (Scope, bool) {
	switch s {
	case "own":
		return Own, true
	case "project", "team":
		return Project, true
	case "tenant":
		return Tenant, true
	}
	return None, false
}

// Capability is one thing a role may do. The first ones are the Runtime
// API's (an IBM action, with results split from other job reads); the
// rest are governance capabilities with no Runtime API route.
type Capability uint8

// Capabilities.
const (
	JobCreate Capability = iota
	// JobCreateSimulator allows job.create for simulator backends only.
	JobCreateSimulator
	JobRead
	// ResultRead covers a job's results, interim results and transpiled
	// circuits (IBM: job.read).
	ResultRead
	JobCancel
	JobDelete
	JobUpdate
	SessionCreate
	SessionRead
	SessionUpdate
	DeviceRead
	InstanceRead
	InstanceUsageRead
	InstanceConfigRead
	InstanceConfigUpdate
	WorkloadList
	AnalyticsRead
	AccountConfigRead
	// PriorityHigh lets jobs use the priority queue.
	PriorityHigh
	// Approve decides held jobs.
	Approve
	ResultExport
	UserView
	UserManage
	RoleManage
	BudgetView
	BudgetManage
	PolicyManage
	AuditView
	ReportView
	ReportExport
	// TenantManage changes the tenant's settings, instances, projects
	// and access groups.
	TenantManage
	// PlatformManage creates tenants and manages any tenant's objects.
	PlatformManage
	numCapabilities
)

// permission is one entry of the vocabulary: a name without its scope
// and the capabilities it grants.
type permission struct {
	name   string
	caps   []Capability
	scoped bool // the name takes :own, :project (:team) or :tenant
	ibm    string
}

// vocabulary is the one table of qgov permissions, what they allow and
// the IBM actions they correspond to (the README prints it).
var vocabulary = []permission{
	{"job:submit:any_backend", []Capability{JobCreate}, false, "job.create"},
	{"job:submit:simulator_only", []Capability{JobCreateSimulator}, false, "job.create (simulator backends only)"},
	{"job:view", []Capability{JobRead}, true, "job.read (job, list, logs, metrics)"},
	{"result:view", []Capability{ResultRead}, true, "job.read (results, interim results, transpiled circuits)"},
	{"job:cancel", []Capability{JobCancel}, true, "job.cancel"},
	{"job:delete", []Capability{JobDelete}, true, "job.delete"},
	{"job:update", []Capability{JobUpdate}, true, "job.update (tags)"},
	{"session:create", []Capability{SessionCreate}, false, "session.create"},
	{"session:view", []Capability{SessionRead}, true, "session.read"},
	{"session:update", []Capability{SessionUpdate}, true, "session.update (close, cancel)"},
	{"device:view", []Capability{DeviceRead}, false, "device.read"},
	{"instance:view", []Capability{InstanceRead, InstanceUsageRead, InstanceConfigRead, WorkloadList}, false,
		"instance.read, instance-usage.read, instance.configuration.read, workload.list"},
	{"instance:configure", []Capability{InstanceConfigUpdate}, false, "instance.configuration.update"},
	{"analytics:view", []Capability{AnalyticsRead, AccountConfigRead}, false,
		"account-analytics-usage.read, account-analytics-filters.read, account-configuration.read"},
	{"job:priority:high", []Capability{PriorityHigh}, false, ""},
	{"job:approve", []Capability{Approve}, true, ""},
	{"result:export", []Capability{ResultExport}, false, ""},
	{"user:view", []Capability{UserView}, false, ""},
	{"user:manage", []Capability{UserManage}, false, ""},
	{"role:manage", []Capability{RoleManage}, false, ""},
	{"budget:view", []Capability{BudgetView}, true, ""},
	{"budget:manage", []Capability{BudgetManage}, false, ""},
	{"policy:manage", []Capability{PolicyManage}, false, ""},
	{"audit:view", []Capability{AuditView}, false, ""},
	{"report:view", []Capability{ReportView}, true, ""},
	{"report:export", []Capability{ReportExport}, false, ""},
	{"tenant:manage", []Capability{TenantManage}, false, ""},
	{"platform:manage", []Capability{PlatformManage}, false, ""},
}

var byName = func() map[string]*permission {
	m := map[string]*permission{}
	for i := range vocabulary {
		m[vocabulary[i].name] = &vocabulary[i]
	}
	return m
}()

// Grant is a capability at a scope.
type Grant struct {
	Cap   Capability
	Scope Scope
}

// ParsePermission reads a qgov permission ("job:cancel:own",
// "job:submit:simulator_only") or an IBM action name
// ("quantum-computing.job.cancel", legacy "quantum-computing.program.update")
// into the capabilities it grants. IBM actions hold at project scope: IBM
// grants them on a service instance, and qgov bounds an instance's jobs by
// project.
func ParsePermission(s string) ([]Grant, error) {
	if strings.HasPrefix(s, actionPrefix) {
		caps, ok := ibmActions[s]
		if !ok {
			return nil, fmt.Errorf("unknown IBM action %q", s)
		}
		out := make([]Grant, len(caps))
		for i, c := range caps {
			out[i] = Grant{c, Project}
		}
		return out, nil
	}
	if p := byName[s]; p != nil && !p.scoped {
		return grants(p.caps, Project), nil
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 {
		if p := byName[s[:i]]; p != nil && p.scoped {
			scope, ok := parseScope(s[i+1:])
			if !ok {
				return nil, fmt.Errorf("permission %q: scope %q is not own, project, team or tenant", s, s[i+1:])
			}
			return grants(p.caps, scope), nil
		}
	}
	if p := byName[s]; p != nil {
		return nil, fmt.Errorf("permission %q needs a scope: %s:own, %s:project or %s:tenant", s, s, s, s)
	}
	return nil, fmt.Errorf("unknown permission %q (known: %s, or an IBM action such as quantum-computing.job.create)", s, strings.Join(Names(), ", "))
}

func grants(caps []Capability, scope Scope) []Grant {
	out := make([]Grant, len(caps))
	for i, c := range caps {
		out[i] = Grant{c, scope}
	}
	return out
}

// Names lists the permission names, scoped ones as "name:<scope>".
func Names() []string {
	var out []string
	for _, p := range vocabulary {
		if p.scoped {
			out = append(out, p.name+":<scope>")
		} else {
			out = append(out, p.name)
		}
	}
	sort.Strings(out)
	return out
}
