package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/circuittest"
	"github.com/qgov/qgov/internal/qiskitclient"
)

// clientCircuit encodes raw QPY as the Python client sends a circuit.
func clientCircuit(qpy []byte) string {
	return fmt.Sprintf(`{"__type__": "QuantumCircuit", "__value__": %q}`, circuittest.Compressed(qpy))
}

// runJob submits a job, waits for it to complete and returns its
// results: it must be admitted (its size known), run and succeed.
func runJob(t *testing.T, c *qiskitclient.Client, req runtimeapi.JobRequest) []byte {
	t.Helper()
	job, err := c.Submit(t.Context(), req)
	require.NoError(t, err, "admitted: its size is known")
	done, err := c.Wait(t.Context(), job.ID, 20*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, runtimeapi.StatusCompleted, done.Status, done.State.Reason)
	raw, err := c.Results(t.Context(), job.ID)
	require.NoError(t, err)
	return raw
}

// vector reads one of the real-encoder test vectors of the QPY reader.
func vector(t *testing.T, name string) []byte {
	data, err := os.ReadFile(filepath.Join("..", "circuit", "testdata", "qpy", name))
	require.NoError(t, err)
	return data
}

// TestRealClientJobsThroughTheGateway submits, through the demo's gateway
// and under its size limits and budgets, jobs whose circuits a real
// Qiskit release wrote (circuit/testdata/qpy/README.md): an estimator job
// on a circuit with a custom gate, and the estimator params of
// qiskit-ibm-runtime's own encoder; and, laid out as Qiskit writes
// them, a sampler job whose Bell pair is a custom gate and a dynamic
// circuit, an if_else on a mid-circuit measurement. Each is admitted with
// a known size, runs on the simulator, and its results decode.
func TestRealClientJobsThroughTheGateway(t *testing.T) {
	d := startDemo(t)
	fatima := d.client("demo-fatima-key", "QR-ml")

	custom, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(vector(t, "custom_gate_v12.b64"))))
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		params string
		pubs   int
	}{
		{"a custom gate (QPY 12, Qiskit 1.2.0)", `{"pubs": [[` + clientCircuit(custom) + `, "ZZZ"]], "version": 2, "support_qiskit": true}`, 1},
		{"qiskit-ibm-runtime's estimator params (QPY 14, Qiskit 2.3.0)", string(vector(t, "estimator_params_v14.json")), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := runJob(t, fatima, runtimeapi.JobRequest{ProgramID: "estimator", Backend: "ibm_qgov_eagle", Params: json.RawMessage(tc.params)})
			for i := range tc.pubs {
				evs, err := qiskitclient.EstimatorValues(raw, i)
				require.NoError(t, err, "pub %d", i)
				require.NotEmpty(t, evs)
				for _, v := range evs {
					assert.LessOrEqual(t, v, 1.0+1e-9)
					assert.GreaterOrEqual(t, v, -1.0-1e-9)
				}
			}
		})
	}

	for _, tc := range []struct {
		name, reg string
		qpy       []byte
	}{
		{"a sampler job with a custom gate", "meas", circuittest.BellByCustomGate(17)},
		{"a dynamic circuit: if_else on a mid-circuit measurement", "c", circuittest.Teleported(17)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := `{"pubs": [[` + clientCircuit(tc.qpy) + `, null, 256]], "version": 2, "support_qiskit": true}`
			raw := runJob(t, fatima, runtimeapi.JobRequest{ProgramID: "sampler", Backend: "ibm_qgov_eagle", Params: json.RawMessage(params)})
			counts, err := qiskitclient.SamplerCounts(raw, 0, tc.reg)
			require.NoError(t, err)
			assert.Equal(t, 256, counts["00"]+counts["11"], "correlated bits only: the custom gate ran as its definition, the block when the measured bit was 1: %v", counts)
			assert.Positive(t, counts["00"])
			assert.Positive(t, counts["11"])
		})
	}
}

// TestExecutorThroughTheGateway submits an executor job (params schema
// v2.0, as qiskit-ibm-runtime's Executor writes them) through the demo's
// gateway: two circuit items in one compressed QPY stream, a Bell
// circuit bound three times over a parameterless tensor shape and a
// dynamic circuit; it is admitted with its size known, runs, and its
// results decode as the client's QuantumProgramResultDecoder reads them.
func TestExecutorThroughTheGateway(t *testing.T) {
	d := startDemo(t)
	fatima := d.client("demo-fatima-key", "QR-ml")
	bell := circuittest.Build(17, 2, 2, []circuittest.Reg{{Name: "meas", Bits: []int64{0, 1}}}, []circuittest.Instr{
		{Class: "HGate", Qubits: []uint32{0}}, {Class: "CXGate", Qubits: []uint32{0, 1}, Ctrl: 1, State: 1},
		{Class: "Measure", Qubits: []uint32{0}, Clbits: []uint32{0}}, {Class: "Measure", Qubits: []uint32{1}, Clbits: []uint32{1}},
	})
	circuits := circuittest.Compressed(circuittest.Stream(17, bell, circuittest.Teleported(17)))
	empty := circuittest.Compressed(nil) // no parameters: shapes [3, 0] and [0]
	params := fmt.Sprintf(`{"schema_version":"v2.0","quantum_program":{"shots":100,
"circuits":{"b64_data":%q,"qpy_version":17,"num_programs":2},
"items":[{"item_type":"circuit","circuit_arguments":{"data":%q,"shape":[3,0],"dtype":"f64"},"shape":[],"chunk_size":"auto"},
{"item_type":"circuit","circuit_arguments":{"data":%q,"shape":[0],"dtype":"f64"},"shape":[],"chunk_size":"auto"}],
"semantic_role":null,"meas_level":"classified","passthrough_data":null},
"options":{"init_qubits":true,"rep_delay":null,"scheduler_timing":false,"stretch_values":false,"experimental":{}}}`,
		circuits, empty, empty)
	raw := runJob(t, fatima, runtimeapi.JobRequest{ProgramID: "executor", Backend: "ibm_qgov_eagle", Params: json.RawMessage(params)})
	for _, tc := range []struct {
		item       int
		reg        string
		executions int
	}{{0, "meas", 3}, {1, "c", 1}} {
		counts, err := qiskitclient.ExecutorCounts(raw, tc.item, tc.reg)
		require.NoError(t, err, "item %d", tc.item)
		assert.Equal(t, 100*tc.executions, counts["00"]+counts["11"], "item %d: correlated bits only: %v", tc.item, counts)
		assert.Positive(t, counts["11"])
	}
}
