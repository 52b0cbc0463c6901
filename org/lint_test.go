package org

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/rbac"
)

func TestLint(t *testing.T) {
	cfg := Config{
		Instances: []Instance{inst("QR-ml", "ml"), inst("QR-lost", "lost")},
		Projects:  []Project{{Name: "ml", Instances: []string{"QR-ml"}}, {Name: "chemlab"}},
		Roles: []rbac.RoleConfig{
			{Name: "MLreader", Permissions: []string{"quantum-computing.job.read"}},
			{Name: "MLreader2", Inherits: []string{"MLreader"}, Source: "roles.yaml:9"},
			{Name: "orphan", Source: "roles.yaml:20"},
		},
		AccessGroups: []AccessGroup{
			{Name: "ml", Projects: []string{"ml"}, Roles: []string{"MLreader2"}, Rules: []Rule{{Claim: "project", Operator: OpHasWord, Value: "ml"}}},
			{Name: "ml-readers", Projects: []string{"ml"}, Roles: []string{"MLreader"},
				Rules: []Rule{{Claim: "project", Operator: OpIn, Values: []string{"mlReader"}, Provider: "appid"}}},
			{Name: "empty", Projects: []string{"ml"}, Roles: []string{"viewer"}, Source: "org.yaml:3"},
		},
	}
	d, err := NewDirectory(cfg)
	require.NoError(t, err)
	var got []string
	for _, f := range d.Lint(map[string]string{"appid": "other"}) {
		got = append(got, f.Kind+": "+f.Message)
	}
	assert.Equal(t, []string{
		`dangling: access group "ml-readers": a rule names identity provider "appid" of tenant "other"; it never matches in tenant "default"`,
		`dangling: access group "empty" (org.yaml:3) has no members and no rules: nobody is in it`,
		`substring: claim project: value "ml" is a substring of "mlReader"; an IdP rule comparing with "contains" would match both`,
		`substring: tenant default: project name "ml" is a substring of "chemlab"`,
		`substring: role name "MLreader" is a substring of "MLreader2"`,
		`unheld_role: role "orphan" (roles.yaml:20) is held by nobody: no access group or assignment gives it, nor a role inheriting it`,
		`unreachable_instance: instance "QR-lost" is reachable by nobody: no access group or assignment gives a role in a project that uses it`,
	}, got)

	clean, err := NewDirectory(seedConfig())
	require.NoError(t, err)
	for _, f := range clean.Lint(nil) {
		assert.NotEqual(t, "unheld_role", f.Kind, f.Message)
		assert.NotEqual(t, "unreachable_instance", f.Kind, f.Message)
	}
}
