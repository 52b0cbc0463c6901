package rbac

// The predefined roles of IBM's enterprise-governance model.
const (
	Viewer     = "viewer"
	Submitter  = "submitter"
	Researcher = "researcher"
	TeamLead   = "team_lead"
	Billing    = "billing"
	Admin      = "admin"
	Operator   = "operator"
)

// Predefined returns the predefined roles and their hierarchy:
//
//	viewer      view jobs, results and sessions of the project; devices; the instance
//	submitter   viewer + submit jobs to any backend, create sessions, tag and close own
//	researcher  submitter + cancel and delete own jobs, export results
//	team_lead   submitter + cancel and tag the project's jobs, close its sessions,
//	            approve jobs, view the project's budget and reports, see its users
//	billing     submitter + usage analytics, tenant budgets (view, manage), export reports
//	admin       researcher + team_lead + billing, with every capability over the tenant
//	operator    admin + create tenants and manage every tenant's governance objects
func Predefined() []RoleConfig {
	return []RoleConfig{
		{Name: Viewer, Description: "View jobs, view results",
			Permissions: []string{"job:view:project", "result:view:project", "session:view:project", "device:view", "instance:view"}},
		{Name: Submitter, Description: "Submit jobs, view own jobs", Inherits: []string{Viewer},
			Permissions: []string{"job:submit:any_backend", "session:create", "job:update:own", "session:update:own"}},
		{Name: Researcher, Description: "Submit, cancel own jobs, export results", Inherits: []string{Submitter},
			Permissions: []string{"job:cancel:own", "job:delete:own", "result:export"}},
		{Name: TeamLead, Description: "Manage team, approve jobs, view team reports", Inherits: []string{Submitter},
			Permissions: []string{"job:cancel:project", "job:update:project", "session:update:project", "job:approve:project",
				"budget:view:project", "report:view:project", "user:view"}},
		{Name: Billing, Description: "View costs, export reports, manage budgets", Inherits: []string{Submitter},
			Permissions: []string{"analytics:view", "budget:view:tenant", "budget:manage", "report:view:tenant", "report:export"}},
		{Name: Admin, Description: "Full access, manage users, budgets, policies", Inherits: []string{Researcher, TeamLead, Billing},
			Permissions: adminPermissions()},
		{Name: Operator, Description: "Create tenants, manage every tenant's governance objects", Inherits: []string{Admin},
			Permissions: []string{"platform:manage"}},
	}
}

// adminPermissions is every permission at its widest.
func adminPermissions() []string {
	out := make([]string, 0, len(vocabulary))
	for _, p := range vocabulary {
		if p.name == "platform:manage" {
			continue // beyond one tenant: the operator's
		}
		if p.scoped {
			out = append(out, p.name+":tenant")
		} else {
			out = append(out, p.name)
		}
	}
	return out
}
