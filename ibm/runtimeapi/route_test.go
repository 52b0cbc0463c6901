package runtimeapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         Route
	}{
		{"GET", "/backends", Route{Action: ActionDeviceRead, Resource: ResourceInstance, ID: ""}},
		{"GET", "/backends/ibm_sim/configuration", Route{Action: ActionDeviceRead, Resource: ResourceBackend, ID: "ibm_sim"}},
		{"GET", "/backends/ibm_sim/properties", Route{Action: ActionDeviceRead, Resource: ResourceBackend, ID: "ibm_sim"}},
		{"GET", "/backends/ibm_sim/status", Route{Action: ActionDeviceRead, Resource: ResourceBackend, ID: "ibm_sim"}},
		{"GET", "/backends/ibm_sim/defaults", Route{Action: ActionDeviceRead, Resource: ResourceBackend, ID: "ibm_sim"}},
		{"GET", "/instances/usage", Route{Action: ActionInstanceUsageRead, Resource: ResourceInstance, ID: ""}},
		{"GET", "/instance", Route{Action: ActionInstanceRead, Resource: ResourceInstance, ID: ""}},
		{"GET", "/instances/configuration", Route{Action: ActionInstanceConfigRead, Resource: ResourceInstance, ID: ""}},
		{"PUT", "/instances/configuration", Route{Action: ActionInstanceConfigEdit, Resource: ResourceInstance, ID: ""}},
		{"POST", "/jobs", Route{Action: ActionJobCreate, Resource: ResourceInstance, ID: ""}},
		{"GET", "/jobs", Route{Action: ActionJobRead, Resource: ResourceInstance, ID: ""}},
		{"GET", "/jobs/j1", Route{Action: ActionJobRead, Resource: ResourceJob, ID: "j1"}},
		{"GET", "/jobs/j1/results", Route{Action: ActionJobRead, Resource: ResourceJob, ID: "j1", Results: true}},
		{"GET", "/jobs/j1/logs", Route{Action: ActionJobRead, Resource: ResourceJob, ID: "j1"}},
		{"GET", "/jobs/j1/metrics", Route{Action: ActionJobRead, Resource: ResourceJob, ID: "j1"}},
		{"GET", "/jobs/j1/interim_results", Route{Action: ActionJobRead, Resource: ResourceJob, ID: "j1", Results: true}},
		{"GET", "/jobs/j1/transpiled_circuits", Route{Action: ActionJobRead, Resource: ResourceJob, ID: "j1", Results: true}},
		{"POST", "/jobs/j1/cancel", Route{Action: ActionJobCancel, Resource: ResourceJob, ID: "j1"}},
		{"DELETE", "/jobs/j1", Route{Action: ActionJobDelete, Resource: ResourceJob, ID: "j1"}},
		{"PUT", "/jobs/j1/tags", Route{Action: ActionJobUpdate, Resource: ResourceJob, ID: "j1"}},
		{"POST", "/sessions", Route{Action: ActionSessionCreate, Resource: ResourceInstance, ID: ""}},
		{"GET", "/sessions/s1", Route{Action: ActionSessionRead, Resource: ResourceSession, ID: "s1"}},
		{"PATCH", "/sessions/s1", Route{Action: ActionSessionUpdate, Resource: ResourceSession, ID: "s1"}},
		{"DELETE", "/sessions/s1/close", Route{Action: ActionSessionUpdate, Resource: ResourceSession, ID: "s1"}},
		{"GET", "/workloads", Route{Action: ActionWorkloadList, Resource: ResourceInstance, ID: ""}},
		{"GET", "/analytics/usage", Route{Action: ActionAnalyticsRead, Resource: ResourceAccount, ID: ""}},
		{"GET", "/analytics/filters", Route{Action: ActionAnalyticsFilters, Resource: ResourceAccount, ID: ""}},
		{"GET", "/accounts/a1", Route{Action: ActionAccountConfigRead, Resource: ResourceAccount, ID: "a1"}},
		// Unknown routes, wrong methods and path tricks are outside the model.
		{"GET", "/versions", Route{}},
		{"PUT", "/jobs", Route{}},
		{"POST", "/jobs/j1", Route{}},
		{"GET", "/jobs/j1/cancel", Route{}},
		{"GET", "/jobs//results", Route{}},
		{"GET", "/jobs/../backends", Route{}},
		{"GET", "/backends/x/calibration", Route{}},
		{"GET", "/", Route{}},
		{"DELETE", "/sessions/s1", Route{}},
		{"HEAD", "/jobs/j1", Route{}},
		{"GET", "/jobs/", Route{}},
		{"GET", "/jobs/j1%2Fresults", Route{}},
		{"GET", "/jobs/j1/./results", Route{}},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			got := Classify(apiRequest(tc.method, "/api/v1"+tc.path))
			assert.Equal(t, got, Classify(apiRequest(tc.method, "/experimental/api/v1"+tc.path)), "the experimental base routes the same")
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.want.Action != "", got.Known())
		})
	}
}

// apiRequest is a request for target as a client sends it: its path is
// taken as written, not cleaned.
func apiRequest(method, target string) *http.Request {
	r := httptest.NewRequest(method, "http://gateway"+target, nil)
	if u, err := url.ParseRequestURI(target); err == nil {
		r.URL.Path, r.URL.RawPath = u.Path, u.RawPath
	}
	return r
}

func TestLegacyActions(t *testing.T) {
	for a, want := range map[Action]Action{
		ActionJobCreate:  "quantum-computing.program.create",
		ActionJobRead:    "quantum-computing.program.read",
		ActionJobCancel:  "quantum-computing.program.update",
		ActionJobUpdate:  "quantum-computing.program.update",
		ActionJobDelete:  "quantum-computing.program.delete",
		ActionDeviceRead: "",
	} {
		assert.Equal(t, want, a.Legacy(), a)
	}
}
