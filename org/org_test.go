package org

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/rbac"
)

func inst(alias, id string) Instance {
	return Instance{Alias: alias, CRN: "crn:v1:bluemix:public:quantum-computing:us-east:a/acct:" + id + "::",
		Upstream: "https://quantum.cloud.ibm.com/api/v1", APIKey: "k"}
}

// seedConfig is the organisation of IBM's organisation examples: projects ml and
// finance share QR-common; the ml project's group gives MLwriter, a
// second group gives its readers MLreader; a "research" group project
// spans both; a second tenant has its own instance.
func seedConfig() Config {
	expired := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	later := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	acme := inst("QR-acme", "acme")
	acme.Tenant = "acme"
	rg := inst("QR-rg", "rg")
	rg.ResourceGroup = "rg-lab"
	return Config{
		Instances: []Instance{inst("QR-ml", "ml"), inst("QR-finance", "fin"), inst("QR-common", "common"), rg, acme},
		Projects: []Project{
			{Name: "research"},
			{Name: "ml", Parent: "research", Instances: []string{"QR-ml", "QR-common"}, CostCenter: "CC-12345"},
			{Name: "finance", Parent: "research", Instances: []string{"QR-finance", "QR-common"}},
			{Name: "lab", ResourceGroups: []string{"rg-lab"}},
			{Name: "ml", Tenant: "acme", Instances: []string{"QR-acme"}},
		},
		Roles: []rbac.RoleConfig{
			{Name: "MLreader", Permissions: []string{"quantum-computing.device.read", "quantum-computing.job.create",
				"quantum-computing.job.read", "quantum-computing.session.create", "quantum-computing.session.read"}},
			{Name: "MLwriter", Inherits: []string{"MLreader"}, Permissions: []string{"quantum-computing.job.cancel",
				"quantum-computing.job.delete", "quantum-computing.job.update", "quantum-computing.session.update"}},
		},
		AccessGroups: []AccessGroup{
			{Name: "project-ml", Projects: []string{"ml"}, Roles: []string{"MLwriter"},
				Rules: []Rule{{Claim: "project", Operator: OpHasWord, Value: "ml"}}},
			{Name: "project-finance", Projects: []string{"finance"}, Roles: []string{"MLwriter"},
				Rules: []Rule{{Claim: "project", Operator: OpHasWord, Value: "finance"}}},
			{Name: "ml-readers", Projects: []string{"ml"}, Roles: []string{"MLreader"}, Members: []string{"rita"}},
			{Name: "research-group", Projects: []string{"research"}, Roles: []string{"researcher"}, Members: []string{"grace"}},
			{Name: "lab", Projects: []string{"lab"}, Roles: []string{"viewer"}, Members: []string{"lena"}},
			{Name: "acme-ml", Tenant: "acme", Projects: []string{"ml"}, Roles: []string{"admin"}, Members: []string{"fatima"}},
		},
		Assignments: []Assignment{
			{User: "olga", Role: "team_lead", Project: "finance", ExpiresAt: &expired},
			{User: "tom", Role: "team_lead", Project: "finance", ExpiresAt: &later},
			{User: "admin", Role: "admin"},
		},
	}
}

func seed(t *testing.T) *Directory {
	d, err := NewDirectory(seedConfig())
	require.NoError(t, err)
	return d
}

// claims is a token's claims for rule matching.
type claims map[string][]string

func (c claims) Strings(name string) []string { return c[name] }

// TestDocumentedAccess encodes the documented examples: who reaches which instance
// through which project, and what they may do to whose job there.
func TestDocumentedAccess(t *testing.T) {
	d := seed(t)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	idp := func(project string) Member {
		return Member{Tenant: "default", User: "u", Groups: d.DynamicGroups("default", "appid", claims{"project": {project}})}
	}
	user := func(name string) Member { return Member{Tenant: "default", User: name} }
	fatima, ravi, amyra, chen := idp("ml"), idp("finance"), idp("ml finance"), idp("chemlab")
	for _, tc := range []struct {
		name     string
		m        Member
		instance string
		projects []string
		cap      rbac.Capability
		project  string // the job's project
		owner    string // the job's owner
		want     bool
	}{
		{"fatima submits on QR-ml", fatima, "QR-ml", []string{"ml"}, rbac.JobCreate, "", "", true},
		{"fatima on QR-common", fatima, "QR-common", []string{"ml"}, rbac.JobCreate, "", "", true},
		{"fatima not on QR-finance", fatima, "QR-finance", nil, rbac.JobCreate, "", "", false},
		{"ravi on QR-finance", ravi, "QR-finance", []string{"finance"}, rbac.JobCreate, "", "", true},
		{"ravi not on QR-ml", ravi, "QR-ml", nil, rbac.JobRead, "", "", false},
		{"amyra on QR-common in both", amyra, "QR-common", []string{"ml", "finance"}, rbac.JobCreate, "", "", true},
		{"chemlab is not ml", chen, "QR-ml", nil, rbac.JobRead, "", "", false},
		{"MLwriter cancels a colleague's ml job", fatima, "QR-ml", []string{"ml"}, rbac.JobCancel, "ml", "someone", true},
		{"MLwriter deletes", fatima, "QR-ml", []string{"ml"}, rbac.JobDelete, "ml", "someone", true},
		{"MLwriter cannot touch finance jobs", fatima, "QR-common", []string{"ml"}, rbac.JobCancel, "finance", "someone", false},
		{"MLreader reads ml jobs", user("rita"), "QR-ml", []string{"ml"}, rbac.JobRead, "ml", "fatima", true},
		{"MLreader reads results", user("rita"), "QR-ml", []string{"ml"}, rbac.ResultRead, "ml", "fatima", true},
		{"MLreader cannot cancel", user("rita"), "QR-ml", []string{"ml"}, rbac.JobCancel, "ml", "rita", false},
		{"MLreader cannot delete", user("rita"), "QR-ml", []string{"ml"}, rbac.JobDelete, "ml", "rita", false},
		{"MLreader cannot update", user("rita"), "QR-ml", []string{"ml"}, rbac.JobUpdate, "ml", "rita", false},
		{"MLreader cannot close sessions", user("rita"), "QR-ml", []string{"ml"}, rbac.SessionUpdate, "ml", "rita", false},
		{"group member reaches ml", user("grace"), "QR-ml", []string{"ml"}, rbac.JobCreate, "", "", true},
		{"group member reaches finance", user("grace"), "QR-finance", []string{"finance"}, rbac.JobCreate, "", "", true},
		{"group member on common in both", user("grace"), "QR-common", []string{"ml", "finance"}, rbac.JobCreate, "", "", true},
		{"researcher cancels own", user("grace"), "QR-ml", []string{"ml"}, rbac.JobCancel, "ml", "grace", true},
		{"job:cancel:own spares a colleague's job", user("grace"), "QR-ml", []string{"ml"}, rbac.JobCancel, "ml", "fatima", false},
		{"researcher views the project's jobs", user("grace"), "QR-ml", []string{"ml"}, rbac.JobRead, "ml", "fatima", true},
		{"expired assignment denies", user("olga"), "QR-finance", nil, rbac.JobCreate, "", "", false},
		{"unexpired assignment grants", user("tom"), "QR-finance", []string{"finance"}, rbac.JobCancel, "finance", "ravi", true},
		{"team lead of finance not on QR-ml", user("tom"), "QR-ml", nil, rbac.JobRead, "", "", false},
		{"tenant admin reaches every project", user("admin"), "QR-common", []string{"ml", "finance"}, rbac.JobCancel, "finance", "ravi", true},
		{"resource group reach", user("lena"), "QR-rg", []string{"lab"}, rbac.JobRead, "lab", "x", true},
		{"viewer cannot submit", user("lena"), "QR-rg", []string{"lab"}, rbac.JobCreate, "", "", false},
		{"tenant admin of acme sees nothing here", user("fatima"), "QR-ml", nil, rbac.JobRead, "", "", false},
		{"acme's fatima on acme", Member{Tenant: "acme", User: "fatima"}, "QR-acme", []string{"ml"}, rbac.JobDelete, "ml", "x", true},
		{"acme cannot reach default's instance", Member{Tenant: "acme", User: "fatima"}, "QR-ml", nil, rbac.JobRead, "", "", false},
		{"default admin cannot reach acme's instance", user("admin"), "QR-acme", nil, rbac.JobRead, "", "", false},
		{"a key narrowed to finance", Member{Tenant: "default", User: "u", Groups: amyra.Groups, Only: []string{"finance"}}, "QR-common", []string{"finance"}, rbac.JobCreate, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reach := d.Access(tc.m, now).On(d.Instance(tc.instance))
			assert.Equal(t, tc.projects, nilIfEmpty(reach.Projects()), "projects")
			if tc.project == "" {
				assert.Equal(t, tc.want, reach.Holds(tc.cap))
			} else {
				assert.Equal(t, tc.want, reach.Allows(tc.cap, tc.project, tc.owner, tc.m.User))
			}
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestAssignmentExpiresAtTheInstant(t *testing.T) {
	d := seed(t)
	tom := Member{Tenant: "default", User: "tom"}
	end := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.False(t, d.Access(tom, end.Add(-time.Nanosecond)).Empty())
	assert.True(t, d.Access(tom, end).Empty())
}

func TestTenantIsolation(t *testing.T) {
	d := seed(t)
	assert.Equal(t, []string{"fatima"}, d.Users("acme"))
	assert.NotContains(t, d.Users("default"), "fatima", "acme's fatima is not default's")
	assert.Contains(t, d.Users("default"), "rita")
	assert.Empty(t, d.DynamicGroups("acme", "appid", claims{"project": {"ml"}}), "rules of one tenant do not match in another")
	admin := d.Access(Member{Tenant: "acme", User: "fatima"}, time.Now())
	var reach []string
	for _, in := range admin.Instances() {
		reach = append(reach, in.Alias)
	}
	assert.Equal(t, []string{"QR-acme"}, reach)
	assert.True(t, d.Access(Member{Tenant: "default", User: "admin"}, time.Now()).Tenant().Has(rbac.UserManage))
	assert.False(t, admin.Tenant().Has(rbac.UserManage), "a project admin is not a tenant admin")
}

func TestDirectoryInstances(t *testing.T) {
	d := seed(t)
	common := d.Instance("QR-common")
	require.NotNil(t, common)
	assert.Same(t, common, d.Instance(common.CRN), "by CRN or alias")
	assert.Nil(t, d.Instance("QR-commo"), "aliases match exactly")
	assert.Nil(t, d.Instance(common.CRN[:len(common.CRN)-2]), "CRNs match exactly")
	assert.Equal(t, "https://iam.cloud.ibm.com", common.IAMURL)
	assert.Equal(t, "standard", common.Plan)
	assert.Equal(t, DefaultTenant, common.Tenant)
	scheme, host := d.Instance("QR-ml").UpstreamAddr()
	assert.Equal(t, "https", scheme)
	assert.Equal(t, "quantum.cloud.ibm.com:443", host)
}

func TestDirectoryRejects(t *testing.T) {
	bad := inst("QR-x", "x")
	bad.CRN = "not-a-crn"
	noKey := inst("QR-y", "y")
	noKey.APIKey = ""
	badURL := inst("QR-z", "z")
	badURL.Upstream = "ftp://x"
	badPlan := inst("QR-p", "p")
	badPlan.Plan = "gold"
	other := inst("QR-o", "o")
	other.Tenant = "acme"
	withCRN := func(crn string, alias ...string) Instance {
		in := inst(append(alias, "QR-x")[0], "x")
		in.CRN = crn
		return in
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad CRN", Config{Instances: []Instance{bad}}, `instance "QR-x": crn "not-a-crn" is not an instance CRN`},
		{"a CRN with a space", Config{Instances: []Instance{withCRN("crn:v1:bluemix:public:quantum-computing:us-east:a/x:qr-x:: ")}}, "is not an instance CRN"},
		{"a CRN twice but for case", Config{Instances: []Instance{withCRN("crn:v1:bluemix:public:quantum-computing:us-east:a/x:qr-x::"),
			withCRN("crn:v1:bluemix:public:quantum-computing:us-east:a/x:QR-X::", "QR-y")}}, "alias or CRN declared twice"},
		{"no key", Config{Instances: []Instance{noKey}}, "credential is required"},
		{"bad upstream", Config{Instances: []Instance{badURL}}, `upstream "ftp://x" must be an http or https URL`},
		{"bad plan", Config{Instances: []Instance{badPlan}}, `unknown plan "gold"`},
		{"duplicate", Config{Instances: []Instance{inst("QR-a", "a"), inst("QR-a", "b")}}, "declared twice"},
		{"unknown alias", Config{Instances: []Instance{inst("QR-a", "a")}, Projects: []Project{{Name: "p", Instances: []string{"QR-b"}}}}, `unknown instance alias "QR-b"`},
		{"CRN instead of alias", Config{Instances: []Instance{inst("QR-a", "a")}, Projects: []Project{{Name: "p", Instances: []string{inst("QR-a", "a").CRN}}}}, "unknown instance alias"},
		{"cross-tenant", Config{Instances: []Instance{other}, Projects: []Project{{Name: "p", Instances: []string{"QR-o"}}}}, `belongs to tenant "acme"`},
		{"nameless project", Config{Projects: []Project{{}}}, "a project needs a name"},
		{"duplicate project", Config{Projects: []Project{{Name: "p", Source: "org.yaml:4"}, {Name: "p", Source: "org.yaml:9"}}}, `project "p" (org.yaml:9): declared twice`},
		{"unknown parent", Config{Projects: []Project{{Name: "p", Parent: "hub"}}}, `unknown parent project "hub"`},
		{"parent cycle", Config{Projects: []Project{{Name: "a", Parent: "b"}, {Name: "b", Parent: "a"}}}, "parent cycle a → b → a"},
		{"empty resource group", Config{Projects: []Project{{Name: "p", ResourceGroups: []string{"rg-none"}}}}, `resource group "rg-none" has no instance`},
		{"group: unknown project", Config{AccessGroups: []AccessGroup{{Name: "g", Source: "Caddyfile:30", Projects: []string{"nope"}, Roles: []string{"viewer"}}}},
			`access group "g" (Caddyfile:30): unknown project "nope"`},
		{"group: unknown role", Config{Projects: []Project{{Name: "p"}}, AccessGroups: []AccessGroup{{Name: "g", Projects: []string{"p"}, Roles: []string{"MLreadr"}}}},
			`unknown role "MLreadr"`},
		{"group: no roles", Config{Projects: []Project{{Name: "p"}}, AccessGroups: []AccessGroup{{Name: "g", Projects: []string{"p"}}}}, "roles are required"},
		{"group: bad rule", Config{Projects: []Project{{Name: "p"}}, AccessGroups: []AccessGroup{{Name: "g", Projects: []string{"p"}, Roles: []string{"viewer"},
			Rules: []Rule{{Claim: "project", Operator: "contains", Value: "ml"}}}}}, `rules[0]: unknown operator "contains"`},
		{"group: two-word has_word", Config{Projects: []Project{{Name: "p"}}, AccessGroups: []AccessGroup{{Name: "g", Projects: []string{"p"}, Roles: []string{"viewer"},
			Rules: []Rule{{Claim: "project", Operator: OpHasWord, Value: "ml finance"}}}}}, "single word"},
		{"group: other tenant's instance", Config{Instances: []Instance{other}, Projects: []Project{{Name: "p"}},
			AccessGroups: []AccessGroup{{Name: "g", Projects: []string{"p"}, Roles: []string{"viewer"}, Instances: []string{"QR-o"}}}}, `belongs to tenant "acme"`},
		{"assignment: unknown role", Config{Assignments: []Assignment{{User: "u", Role: "boss", Source: "tenant.yaml:7"}}}, `role assignment "u boss" (tenant.yaml:7): unknown role "boss"`},
		{"assignment: unknown project", Config{Assignments: []Assignment{{User: "u", Role: "viewer", Project: "p"}}}, `unknown project "p"`},
		{"role: cycle", Config{Roles: []rbac.RoleConfig{{Name: "a", Inherits: []string{"a"}}}}, "inheritance cycle"},
		{"tenant: bad shots", Config{Tenants: []TenantSettings{{Name: "t", DefaultShots: 5000, MaxShots: 1000}}}, "default_shots 5000 exceeds max_shots 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDirectory(tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
