package qiskitclient

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validConfiguration is a configuration the client builds a backend
// from.
const validConfiguration = `{"backend_name":"ibm_x","backend_version":"1.0.0","n_qubits":2,"basis_gates":["cz","rz"],
"gates":[{"name":"cz","parameters":[],"qasm_def":"gate cz a,b { h b; cx a,b; h b; }","coupling_map":[[0,1]]},
{"name":"rz","parameters":["theta"],"qasm_def":"gate rz(theta) q { U(0,0,theta) q; }"}],
"local":false,"simulator":false,"conditional":false,"open_pulse":false,"memory":true,"coupling_map":[[0,1]],
"online_date":"2026-01-01T00:00:00Z","rep_delay_range":[0,500],"default_rep_delay":250,"dt":0.2222,"dtm":0.2222,
"meas_map":[[0,1]],"timing_constraints":{"granularity":16,"min_length":64,"pulse_alignment":16,"acquire_alignment":16}}`

// TestCheckConfiguration changes one field of a valid configuration at a
// time into a shape the real client rejects (and so drops the backend).
func TestCheckConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name, field string
		value       any
		want        string
	}{
		{"valid", "", nil, ""},
		{"rep_delay_range as a list of ranges", "rep_delay_range", [][]float64{{0, 500}}, "flat [min, max]"},
		{"rep_delay_range of one bound", "rep_delay_range", []float64{500}, "flat [min, max]"},
		{"a gate entry without qasm_def", "gates", []map[string]any{{"name": "cx", "parameters": []string{}}}, `lacks "qasm_def"`},
		{"a gate entry with a key GateConfig refuses", "gates", []map[string]any{{"name": "cx", "parameters": []string{}, "qasm_def": "", "label": "x"}}, `"label"`},
		{"dt as a string", "dt", "0.2222", "dt must be a number"},
		{"online_date not ISO", "online_date", "yesterday", "online_date"},
		{"meas_map flat", "meas_map", []int{0, 1}, "meas_map"},
		{"timing_constraints with an unknown keyword", "timing_constraints", map[string]int{"granularity": 16, "alignment": 2}, "timing_constraints.alignment"},
		{"no coupling_map key", "coupling_map", "delete", `"coupling_map" missing`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			require.NoError(t, json.Unmarshal([]byte(validConfiguration), &doc))
			if tc.field != "" {
				if tc.value == "delete" {
					delete(doc, tc.field)
				} else {
					raw, _ := json.Marshal(tc.value)
					var v any
					require.NoError(t, json.Unmarshal(raw, &v))
					doc[tc.field] = v
				}
			}
			err := CheckConfiguration(doc)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestCheckDocuments changes valid job, list and session documents into
// shapes the real client raises on or misreads.
func TestCheckDocuments(t *testing.T) {
	job := func() map[string]any {
		return map[string]any{"id": "j1", "state": map[string]any{"status": "Completed"}, "created": "2026-12-07T10:00:00.123456Z",
			"program": map[string]any{"id": "sampler"}, "tags": []any{}}
	}
	session := func() map[string]any {
		return map[string]any{"id": "s1", "mode": "batch", "state": "open", "accepting_jobs": true, "backend_name": "ibm_x",
			"started_at": "2026-12-07T10:00:00Z", "closed_at": nil}
	}
	for _, tc := range []struct {
		name string
		edit func(j, s map[string]any)
		want string
	}{
		{"valid", func(j, s map[string]any) {}, ""},
		{"a status the client does not map", func(j, s map[string]any) { j["state"] = map[string]any{"status": "Done"} }, "state.status"},
		{"no state object", func(j, s map[string]any) { j["state"] = "Completed" }, "state is not an object"},
		{"a reason code as text", func(j, s map[string]any) {
			j["state"] = map[string]any{"status": "Cancelled", "reason_code": "1305"}
		}, "reason_code"},
		{"a creation time with an offset", func(j, s map[string]any) { j["created"] = "2026-12-07T11:00:00+01:00" }, "not UTC"},
		{"program null", func(j, s map[string]any) { j["program"] = nil }, "program"},
		{"a session of another mode", func(j, s map[string]any) { s["mode"] = "dedicated" }, "mode"},
		{"a session without backend", func(j, s map[string]any) { s["backend_name"] = "" }, "backend_name"},
		{"accepting_jobs as text", func(j, s map[string]any) { s["accepting_jobs"] = "true" }, "accepting_jobs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, s := job(), session()
			tc.edit(j, s)
			err := errors.Join(CheckJobList(map[string]any{"jobs": []any{j}, "count": 1.0}), CheckSession(s, "batch"))
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	assert.Error(t, CheckJobList(map[string]any{"jobs": []any{}, "count": nil}), "count is hard")
}
