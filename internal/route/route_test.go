package route

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMatch(t *testing.T) {
	table := New([]Route[string]{
		{"GET /jobs", "list"},
		{"POST /jobs", "create"},
		{"GET /jobs/{id}", "read"},
		{"POST /jobs/{id}/cancel", "cancel"},
		{"GET /jobs/{id}/results", "results"},
		{"GET /ui/{$}", "home"},
	})
	for _, tc := range []struct {
		method, target string
		want           string
		result         Result
		id             string
	}{
		{"GET", "/jobs", "list", Found, ""},
		{"POST", "/jobs", "create", Found, ""},
		{"GET", "/jobs/j-1", "read", Found, "j-1"},
		{"POST", "/jobs/j-1/cancel", "cancel", Found, "j-1"},
		{"GET", "/jobs/j-1/results", "results", Found, "j-1"},
		{"DELETE", "/jobs/j-1", "", NotAllowed, ""},
		{"HEAD", "/jobs/j-1", "", NotAllowed, ""},
		{"GET", "/jobs/j-1/cancel", "", NotAllowed, ""},
		{"GET", "/sessions", "", Unknown, ""},
		{"GET", "/jobs/j-1/metrics", "", Unknown, ""},
		{"GET", "/jobs/", "", Unknown, ""},
		{"GET", "/jobs//results", "", Unknown, ""},
		{"GET", "/jobs/../jobs/j-1", "", Unknown, ""},
		{"GET", "/jobs/./j-1", "", Unknown, ""},
		{"GET", "/jobs/a%2Fb", "", Unknown, ""},
		{"GET", "/jobs/a%2Fb/results", "", Unknown, ""},
		{"GET", "/jobs/a%2fb", "", Unknown, ""},
		{"GET", "/jobs/a%5Cb", "", Unknown, ""},
		{"GET", "/jobs/%2e%2e/results", "", Unknown, ""},
		{"GET", "/jobs/%2E", "", Unknown, ""},
		{"GET", "/jobs/alice%3Aadmin%3Aml", "read", Found, "alice:admin:ml"},
		{"GET", "/jobs/fatima%40example.com", "read", Found, "fatima@example.com"},
		{"GET", "/jobs/a%2Cb", "read", Found, "a,b"},
		{"GET", "/ui/", "home", Found, ""},
		{"GET", "/ui", "", Unknown, ""},
		{"GET", "/ui//", "", Unknown, ""},
		{"POST", "/ui/", "", NotAllowed, ""},
	} {
		r := httptest.NewRequest(tc.method, "http://gw"+tc.target, nil)
		if tc.target == "/jobs/../jobs/j-1" || tc.target == "/jobs/./j-1" {
			r.URL.Path = tc.target // as a raw request line gives it, uncleaned
		}
		got, result := table.Match(r)
		assert.Equal(t, tc.result, result, "%s %s", tc.method, tc.target)
		assert.Equal(t, tc.want, got, "%s %s", tc.method, tc.target)
		if result == Found {
			assert.Equal(t, tc.id, r.PathValue("id"), "%s %s", tc.method, tc.target)
		}
	}
}

// TestAllow: a path asked with another method lists the methods it is
// served with, for the Allow header; an unknown or unclean path lists
// none.
func TestAllow(t *testing.T) {
	table := New([]Route[string]{
		{"GET /jobs", "list"},
		{"POST /jobs", "create"},
		{"DELETE /jobs/{id}", "delete"},
		{"GET /jobs/{id}", "read"},
	})
	for _, tc := range []struct{ method, target, want string }{
		{"PUT", "/jobs", "GET, POST"},
		{"POST", "/jobs/j-1", "DELETE, GET"},
		{"HEAD", "/jobs/j-1", "DELETE, GET"},
		{"GET", "/sessions", ""},
		{"GET", "/jobs/a%2Fb", ""},
	} {
		r := httptest.NewRequest(tc.method, "http://gw"+tc.target, nil)
		assert.Equal(t, tc.want, table.Allow(r), "%s %s", tc.method, tc.target)
	}
}

func TestNewRefusesPatternsWithoutMethods(t *testing.T) {
	assert.Panics(t, func() { New([]Route[int]{{"/jobs", 1}}) })
	assert.Panics(t, func() { New([]Route[int]{{"GET /jobs/{id}", 1}, {"GET /jobs/{job}", 2}}) }, "conflicting patterns")
}
