package org

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func inst(alias, id string) Instance {
	return Instance{Alias: alias, CRN: "crn:v1:bluemix:public:quantum-computing:us-east:a/acct:" + id + "::",
		Upstream: "https://quantum.cloud.ibm.com/api/v1", APIKey: "k"}
}

func seed(t *testing.T) *Directory {
	d, err := NewDirectory(nil,
		[]Instance{inst("QR-ml", "ml"), inst("QR-finance", "fin"), inst("QR-common", "common")},
		[]Project{{Name: "ml", Instances: []string{"QR-ml", "QR-common"}}, {Name: "finance", Instances: []string{"QR-finance", "QR-common"}}},
	)
	require.NoError(t, err)
	return d
}

func TestDirectoryGrants(t *testing.T) {
	d := seed(t)
	common := d.Instance("QR-common")
	require.NotNil(t, common)
	assert.Same(t, common, d.Instance(common.CRN), "by CRN or alias")
	assert.Nil(t, d.Instance("QR-commo"), "aliases match exactly")
	assert.Nil(t, d.Instance(common.CRN[:len(common.CRN)-2]), "CRNs match exactly")
	assert.Equal(t, "https://iam.cloud.ibm.com", common.IAMURL)
	assert.Equal(t, "standard", common.Plan)
	assert.Equal(t, DefaultTenant, common.Tenant)

	for _, tc := range []struct {
		tenant   string
		projects []string
		alias    string
		want     []string
	}{
		{"default", []string{"ml"}, "QR-ml", []string{"ml"}},
		{"default", []string{"ml"}, "QR-finance", nil},
		{"default", []string{"ml", "finance"}, "QR-common", []string{"ml", "finance"}},
		{"default", []string{"finance", "ml"}, "QR-common", []string{"finance", "ml"}},
		{"default", []string{"m"}, "QR-ml", nil},
		{"other", []string{"ml"}, "QR-ml", nil},
	} {
		assert.Equal(t, tc.want, d.Grants(tc.tenant, tc.projects, d.Instance(tc.alias)), "%v on %s", tc.projects, tc.alias)
	}
	var reach []string
	for _, in := range d.Reachable("default", []string{"finance"}) {
		reach = append(reach, in.Alias)
	}
	assert.Equal(t, []string{"QR-finance", "QR-common"}, reach)
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
	for _, tc := range []struct {
		name      string
		instances []Instance
		projects  []Project
		want      string
	}{
		{"bad CRN", []Instance{bad}, nil, `instance "QR-x": crn "not-a-crn" is not a CRN`},
		{"no key", []Instance{noKey}, nil, "api_key is required"},
		{"bad upstream", []Instance{badURL}, nil, `upstream "ftp://x" must be an http or https URL`},
		{"bad plan", []Instance{badPlan}, nil, `unknown plan "gold"`},
		{"duplicate", []Instance{inst("QR-a", "a"), inst("QR-a", "b")}, nil, "declared twice"},
		{"unknown alias", []Instance{inst("QR-a", "a")}, []Project{{Name: "p", Instances: []string{"QR-b"}}}, `unknown instance alias "QR-b"`},
		{"CRN instead of alias", []Instance{inst("QR-a", "a")}, []Project{{Name: "p", Instances: []string{inst("QR-a", "a").CRN}}}, "unknown instance alias"},
		{"cross-tenant", []Instance{other}, []Project{{Name: "p", Instances: []string{"QR-o"}}}, `belongs to tenant "acme"`},
		{"nameless project", nil, []Project{{}}, "name is required"},
		{"duplicate project", nil, []Project{{Name: "p"}, {Name: "p"}}, "declared twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDirectory(nil, tc.instances, tc.projects)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
