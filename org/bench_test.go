package org

import (
	"fmt"
	"testing"
	"time"

	"github.com/qgov/qgov/rbac"
)

// BenchmarkDecision measures the authorization decision of one request:
// the caller's access from the loaded config (no store round trip), their
// reach on the instance, and the check over a job's project and owner.
func BenchmarkDecision(b *testing.B) {
	large := seedConfig()
	for i := range 200 {
		p := fmt.Sprintf("p%03d", i)
		large.Projects = append(large.Projects, Project{Name: p, Instances: []string{"QR-common"}})
		large.AccessGroups = append(large.AccessGroups, AccessGroup{Name: "g" + p, Projects: []string{p}, Roles: []string{"researcher"},
			Members: []string{fmt.Sprintf("u%03d", i%20)}})
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		m    Member
	}{
		{"seed dynamic member", seedConfig(), Member{Tenant: "default", User: "fatima", Groups: []string{"project-ml"}}},
		{"seed tenant admin", seedConfig(), Member{Tenant: "default", User: "admin"}},
		{"200 projects, member of 10", large, Member{Tenant: "default", User: "u007"}},
	} {
		d, err := NewDirectory(tc.cfg)
		if err != nil {
			b.Fatal(err)
		}
		in, now := d.Instance("QR-common"), time.Now()
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				reach := d.Access(tc.m, now).On(in)
				if len(reach.List) == 0 {
					b.Fatal("no reach")
				}
				_ = reach.Allows(rbac.JobCancel, reach.List[0].Project, "someone", tc.m.User)
			}
		})
	}
}
