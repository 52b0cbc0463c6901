package rbac

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/quota"
)

func intp(v int) *int { return &v }

// seedRoles are the custom roles of the seeds: IBM's project role
// (with the optional job.delete), IBM's MLreader/MLwriter split and
// IBM's enterprise-governance quantum_intern and senior_researcher.
var seedRoles = []RoleConfig{
	{Name: "QuantumProject", Permissions: []string{
		"quantum-computing.device.read", "quantum-computing.job.cancel", "quantum-computing.job.create",
		"quantum-computing.job.read", "quantum-computing.program.create", "quantum-computing.program.delete",
		"quantum-computing.program.read", "quantum-computing.program.update", "quantum-computing.user.logout",
		"quantum-computing.job.delete"}},
	{Name: "MLreader", Permissions: []string{"quantum-computing.device.read", "quantum-computing.job.create",
		"quantum-computing.job.read", "quantum-computing.session.create", "quantum-computing.session.read"}},
	{Name: "MLwriter", Inherits: []string{"MLreader"}, Permissions: []string{"quantum-computing.job.cancel",
		"quantum-computing.job.delete", "quantum-computing.job.update", "quantum-computing.session.update"}},
	{Name: "quantum_intern", Description: "Limited access for interns",
		Permissions: []string{"job:submit:simulator_only", "job:view:own", "result:view:own"},
		Limits:      &quota.Limits{MaxShotsPerJob: intp(1000), MaxJobsPerDay: intp(10), AllowedBackends: []string{"simulator"}}},
	{Name: "senior_researcher", Inherits: []string{"researcher"},
		Permissions: []string{"job:submit:any_backend", "job:priority:high", "budget:view:team"},
		Limits:      &quota.Limits{MaxShotsPerJob: intp(100000), MaxJobsPerDay: intp(100)}},
}

func TestRoleCapabilities(t *testing.T) {
	rs, err := Compile(seedRoles)
	require.NoError(t, err)
	for _, tc := range []struct {
		role string
		cap  Capability
		want Scope
	}{
		{"viewer", JobRead, Project},
		{"viewer", JobCreate, None},
		{"viewer", ResultRead, Project},
		{"submitter", JobCreate, Project},
		{"submitter", JobCancel, None},
		{"researcher", JobCancel, Own},
		{"researcher", JobDelete, Own},
		{"team_lead", JobCancel, Project},
		{"team_lead", Approve, Project},
		{"team_lead", UserManage, None},
		{"billing", BudgetView, Tenant},
		{"billing", JobCancel, None},
		{"admin", JobRead, Tenant},
		{"admin", JobDelete, Tenant},
		{"admin", UserManage, Project},
		{"QuantumProject", JobDelete, Project},
		{"QuantumProject", JobUpdate, Project}, // legacy program.update
		{"QuantumProject", SessionCreate, None},
		{"MLreader", JobCreate, Project},
		{"MLreader", JobRead, Project},
		{"MLreader", JobCancel, None},
		{"MLreader", JobDelete, None},
		{"MLreader", JobUpdate, None},
		{"MLreader", SessionUpdate, None},
		{"MLwriter", JobCancel, Project},
		{"MLwriter", JobDelete, Project},
		{"MLwriter", JobCreate, Project},
		{"quantum_intern", JobCreate, None},
		{"quantum_intern", JobCreateSimulator, Project},
		{"quantum_intern", JobRead, Own},
		{"quantum_intern", ResultRead, Own},
		{"senior_researcher", JobCancel, Own},
		{"senior_researcher", PriorityHigh, Project},
		{"senior_researcher", BudgetView, Project},
	} {
		r := rs.Get(tc.role)
		require.NotNil(t, r, tc.role)
		assert.Equal(t, tc.want, r.Set.Scope(tc.cap), "%s %s", tc.role, CapabilityName(tc.cap))
	}
}

func TestRoleLimitsInherit(t *testing.T) {
	rs, err := Compile(append(seedRoles, RoleConfig{Name: "night_intern", Inherits: []string{"quantum_intern"},
		Limits: &quota.Limits{MaxJobsPerDay: intp(3)}}))
	require.NoError(t, err)
	l := rs.Get("night_intern").Limits
	assert.Equal(t, 3, *l.MaxJobsPerDay)
	assert.Equal(t, 1000, *l.MaxShotsPerJob, "inherited")
	assert.Equal(t, []string{"simulator"}, l.AllowedBackends)
	assert.Nil(t, rs.Get("researcher").Limits.MaxShotsPerJob)
}

func TestCompileRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		roles []RoleConfig
		want  []string
	}{
		{"unknown permission", []RoleConfig{{Name: "r", Source: "roles.yaml:3", Permissions: []string{"job:fly:own"}}},
			[]string{`role "r" (roles.yaml:3): permissions[0]: unknown permission "job:fly:own"`}},
		{"unknown IBM action", []RoleConfig{{Name: "r", Permissions: []string{"quantum-computing.job.explode"}}},
			[]string{`unknown IBM action "quantum-computing.job.explode"`}},
		{"bad scope", []RoleConfig{{Name: "r", Permissions: []string{"job:view:galaxy"}}},
			[]string{`scope "galaxy" is not own, project, team or tenant`}},
		{"missing scope", []RoleConfig{{Name: "r", Permissions: []string{"job:view"}}},
			[]string{`permission "job:view" needs a scope`}},
		{"cycle", []RoleConfig{{Name: "a", Inherits: []string{"b"}, Source: "Caddyfile:10"}, {Name: "b", Inherits: []string{"a"}}},
			[]string{`role "a" (Caddyfile:10): inheritance cycle a → b → a`}},
		{"self cycle", []RoleConfig{{Name: "a", Inherits: []string{"a"}}}, []string{"inheritance cycle a → a"}},
		{"unknown parent", []RoleConfig{{Name: "a", Inherits: []string{"reseacher"}}}, []string{`inherits unknown role "reseacher"`}},
		{"twice", []RoleConfig{{Name: "a", Source: "x:1"}, {Name: "a", Source: "x:5"}}, []string{`role "a" (x:5): declared twice (also x:1)`}},
		{"predefined", []RoleConfig{{Name: "admin"}}, []string{`"admin" is a predefined role`}},
		{"no name", []RoleConfig{{Name: "my role"}}, []string{"needs a name"}},
		{"negative limit", []RoleConfig{{Name: "r", Limits: &quota.Limits{MaxJobsPerDay: intp(-1)}}}, []string{"max_jobs_per_day must not be negative"}},
		{"every problem", []RoleConfig{{Name: "a", Permissions: []string{"x"}}, {Name: "b", Permissions: []string{"y"}}},
			[]string{`role "a": permissions[0]: unknown permission "x"`, `role "b": permissions[0]: unknown permission "y"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.roles)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestRouteCapability(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         Capability
	}{
		{"POST", "/jobs", JobCreate},
		{"GET", "/jobs", JobRead},
		{"GET", "/jobs/j1", JobRead},
		{"GET", "/jobs/j1/logs", JobRead},
		{"GET", "/jobs/j1/results", ResultRead},
		{"GET", "/jobs/j1/interim_results", ResultRead},
		{"POST", "/jobs/j1/cancel", JobCancel},
		{"DELETE", "/jobs/j1", JobDelete},
		{"PUT", "/jobs/j1/tags", JobUpdate},
		{"DELETE", "/sessions/s1/close", SessionUpdate},
		{"GET", "/backends", DeviceRead},
		{"GET", "/instances/usage", InstanceUsageRead},
		{"GET", "/analytics/filters", AnalyticsRead},
	} {
		route := runtimeapi.Classify(httptest.NewRequest(tc.method, "/api/v1"+tc.path, nil))
		assert.Equal(t, CapabilityName(tc.want), CapabilityName(RouteCapability(route)), tc.path)
		assert.Equal(t, tc.want, RouteCapability(route), tc.path)
	}
}

// Every Runtime API action is reachable by some permission, and every
// IBM action name (current and legacy) parses.
func TestMappingCoversEveryAction(t *testing.T) {
	for _, a := range runtimeapi.Actions {
		gs, err := ParsePermission(string(a))
		require.NoError(t, err, a)
		assert.NotEmpty(t, gs, a)
		if legacy := a.Legacy(); legacy != "" {
			_, err := ParsePermission(string(legacy))
			assert.NoError(t, err, legacy)
		}
		var s Set
		for _, p := range adminPermissions() {
			g, err := ParsePermission(p)
			require.NoError(t, err)
			for _, x := range g {
				s.Add(x)
			}
		}
		assert.True(t, s.Has(routeCaps[a]), "admin holds %s", a)
	}
}

func TestSetPermissions(t *testing.T) {
	rs, err := Compile(seedRoles)
	require.NoError(t, err)
	for _, tc := range []struct {
		role   string
		has    map[string]string
		hasNot []string
	}{
		{"team_lead", map[string]string{"job:approve": "project", "user:view": "", "job:submit:any_backend": ""}, []string{"audit:view", "budget:manage"}},
		{"billing", map[string]string{"budget:view": "tenant", "report:export": ""}, []string{"job:approve"}},
		{"quantum_intern", map[string]string{"job:view": "own", "job:submit:simulator_only": ""}, []string{"job:submit:any_backend"}},
	} {
		got := rs.Get(tc.role).Set.Permissions()
		for name, scope := range tc.has {
			v, ok := got[name]
			assert.True(t, ok, "%s holds %s", tc.role, name)
			assert.Equal(t, scope, v, "%s %s", tc.role, name)
		}
		for _, name := range tc.hasNot {
			assert.NotContains(t, got, name, tc.role)
		}
	}
}
