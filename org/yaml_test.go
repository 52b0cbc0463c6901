package org

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/rbac"
)

// loadExample reads the IBM-shaped files of testdata into one organisation.
func loadExample(t *testing.T) Config {
	var c Config
	for _, name := range []string{"custom-roles.yaml", "tenant-config.yaml"} {
		part, err := LoadFile(filepath.Join("testdata", name))
		require.NoError(t, err, name)
		c.Merge(part)
	}
	return c
}

func TestSeedYAML(t *testing.T) {
	c := loadExample(t)
	require.Len(t, c.Tenants, 1)
	ten := c.Tenants[0]
	assert.Equal(t, "research-alpha", ten.Name)
	assert.Equal(t, "Research Lab Alpha", ten.DisplayName)
	assert.Equal(t, 3600, ten.SessionIdleSeconds)
	assert.Equal(t, []string{"192.168.1.0/24", "10.0.0.0/8"}, ten.IPAllowlist)
	assert.Equal(t, 100.0, ten.ApprovalThresholdUSD)
	assert.Equal(t, filepath.Join("testdata", "tenant-config.yaml")+":4", ten.Source)
	assert.Equal(t, "quantum_intern", c.Roles[0].Name)
	assert.Equal(t, filepath.Join("testdata", "custom-roles.yaml")+":3", c.Roles[0].Source)
	assert.Equal(t, []string{"researcher"}, c.Roles[1].Inherits, "a single name")
	assert.Equal(t, []string{"MLreader"}, c.Roles[3].Inherits, "a list")
	assert.Equal(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), *c.Assignments[1].ExpiresAt, "a date lasts through its day")

	c.Instances[0].APIKey, c.Instances[1].APIKey = "k", "k" // placeholders are resolved by the app
	d, err := NewDirectory(c)
	require.NoError(t, err)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	intern := d.Access(Member{Tenant: "research-alpha", User: "ian"}, now).On(d.Instance("QR-alpha"))
	require.Len(t, intern.List, 1)
	assert.True(t, intern.List[0].Set.Has(rbac.JobCreateSimulator))
	assert.False(t, intern.List[0].Set.Has(rbac.JobCreate))
	groups := d.DynamicGroups("research-alpha", "any", claimValues{"department": {"chemistry"}})
	assert.Equal(t, []string{"chemists"}, groups)
	chem := d.Access(Member{Tenant: "research-alpha", User: "kim", Groups: groups}, now).On(d.Instance("QR-chem"))
	require.Len(t, chem.List, 1, "through the resource group")
	assert.Equal(t, rbac.Own, chem.List[0].Set.Scope(rbac.JobCancel), "senior_researcher inherits researcher")
	assert.True(t, d.Access(Member{Tenant: "research-alpha", User: "user-123"}, now).Tenant().Has(rbac.JobCreate))
	assert.True(t, d.Access(Member{Tenant: "research-alpha", User: "user-123"}, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)).Empty())
}

// claimValues is a token's claims for rule matching.
type claimValues map[string][]string

func (c claimValues) Strings(name string) []string { return c[name] }

func TestYAMLRejects(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "roles:\n  r:\n    permisions: [job:view:own]\n", []string{`roles.yaml:3: unknown key "permisions"`}},
		{"unknown top-level key", "role:\n  r: {}\n", []string{`roles.yaml:1: unknown key "role"`}},
		{"unknown settings key", "tenant:\n  id: t\n  settings:\n    mfa: true\n", []string{`roles.yaml:4: unknown key "mfa"`}},
		{"unknown limit", "roles:\n  r:\n    limits:\n      max_qpus: 3\n", []string{`roles.yaml:4: unknown key "max_qpus"`}},
		{"bad expiry", "assignments:\n  - user: u\n    role: viewer\n    expires_at: soon\n", []string{`roles.yaml:2: expires_at: "soon" is neither`}},
		{"not YAML", "roles: [\n", []string{"roles.yaml: yaml:"}},
		{"roles as a list", "roles:\n  - r\n", []string{"roles.yaml:2: roles must map names to objects"}},
		{"wrong type", "roles:\n  r:\n    permissions: 3\n", []string{"roles.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseYAML("roles.yaml", []byte(tc.yaml))
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// Problems the directory finds name the file and line of the object.
func TestYAMLErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown permission", "roles:\n  a:\n    permissions: [job:view:own]\n  b:\n    permissions: [job:teleport:own]\n",
			`role "b" (org.yaml:4): permissions[0]: unknown permission "job:teleport:own"`},
		{"inheritance cycle", "roles:\n  a:\n    inherits: b\n  b:\n    inherits: a\n", `role "a" (org.yaml:2): inheritance cycle a → b → a`},
		{"dangling group reference", "projects:\n  - id: p\naccess_groups:\n  g:\n    projects: [p]\n    roles: [MLwriter]\n",
			`access group "g" (org.yaml:4): unknown role "MLwriter"`},
		{"dangling assignment", "assignments:\n  - user: u\n    role: viewer\n    project: nowhere\n",
			`role assignment "u viewer" (org.yaml:2): unknown project "nowhere"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseYAML("org.yaml", []byte(tc.yaml))
			require.NoError(t, err)
			_, err = NewDirectory(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
