package runtimeapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         Route
	}{
		{"GET", "/backends", Route{ActionDeviceRead, ResourceInstance, ""}},
		{"GET", "/backends/ibm_sim/configuration", Route{ActionDeviceRead, ResourceBackend, "ibm_sim"}},
		{"GET", "/backends/ibm_sim/properties", Route{ActionDeviceRead, ResourceBackend, "ibm_sim"}},
		{"GET", "/backends/ibm_sim/status", Route{ActionDeviceRead, ResourceBackend, "ibm_sim"}},
		{"GET", "/backends/ibm_sim/defaults", Route{ActionDeviceRead, ResourceBackend, "ibm_sim"}},
		{"GET", "/instances/usage", Route{ActionInstanceUsageRead, ResourceInstance, ""}},
		{"GET", "/instance", Route{ActionInstanceRead, ResourceInstance, ""}},
		{"GET", "/instances/configuration", Route{ActionInstanceConfigRead, ResourceInstance, ""}},
		{"PUT", "/instances/configuration", Route{ActionInstanceConfigEdit, ResourceInstance, ""}},
		{"POST", "/jobs", Route{ActionJobCreate, ResourceInstance, ""}},
		{"GET", "/jobs", Route{ActionJobRead, ResourceInstance, ""}},
		{"GET", "/jobs/j1", Route{ActionJobRead, ResourceJob, "j1"}},
		{"GET", "/jobs/j1/results", Route{ActionJobRead, ResourceJob, "j1"}},
		{"GET", "/jobs/j1/logs", Route{ActionJobRead, ResourceJob, "j1"}},
		{"GET", "/jobs/j1/metrics", Route{ActionJobRead, ResourceJob, "j1"}},
		{"GET", "/jobs/j1/interim_results", Route{ActionJobRead, ResourceJob, "j1"}},
		{"GET", "/jobs/j1/transpiled_circuits", Route{ActionJobRead, ResourceJob, "j1"}},
		{"POST", "/jobs/j1/cancel", Route{ActionJobCancel, ResourceJob, "j1"}},
		{"DELETE", "/jobs/j1", Route{ActionJobDelete, ResourceJob, "j1"}},
		{"PUT", "/jobs/j1/tags", Route{ActionJobUpdate, ResourceJob, "j1"}},
		{"POST", "/sessions", Route{ActionSessionCreate, ResourceInstance, ""}},
		{"GET", "/sessions/s1", Route{ActionSessionRead, ResourceSession, "s1"}},
		{"PATCH", "/sessions/s1", Route{ActionSessionUpdate, ResourceSession, "s1"}},
		{"DELETE", "/sessions/s1/close", Route{ActionSessionUpdate, ResourceSession, "s1"}},
		{"GET", "/workloads", Route{ActionWorkloadList, ResourceInstance, ""}},
		{"GET", "/analytics/usage", Route{ActionAnalyticsRead, ResourceAccount, ""}},
		{"GET", "/analytics/filters", Route{ActionAnalyticsFilters, ResourceAccount, ""}},
		{"GET", "/accounts/a1", Route{ActionAccountConfigRead, ResourceAccount, "a1"}},
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
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			got := Classify(tc.method, tc.path)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.want.Action != "", got.Known())
		})
	}
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
