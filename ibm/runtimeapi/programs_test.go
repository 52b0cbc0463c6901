package runtimeapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/circuit"
	"github.com/qgov/qgov/internal/circuittest"
)

// TestProgramSizes sizes the executor (schema v2.0, laid out as
// qiskit-ibm-runtime's Executor writes it) and the noise learner (v2, by
// its documented bound), and leaves unknown what neither states.
func TestProgramSizes(t *testing.T) {
	bell := circuittest.Build(17, 2, 0, nil, []circuittest.Instr{{Class: "HGate", Qubits: []uint32{0}}, {Class: "CXGate", Qubits: []uint32{0, 1}, Ctrl: 1, State: 1}})
	two := circuittest.Compressed(circuittest.Stream(17, bell, circuittest.Teleported(17)))
	one := circuittest.Compressed(circuittest.Stream(17, bell))
	args := `{"data":"eJybNRMEdtrPAtMn7Y3B4DKUf9OeAQweQMUf2wMAKJMTlQ==","shape":[2,3],"dtype":"f64"}`
	executor := func(circuits, argShape string, samplexShape string) string {
		return fmt.Sprintf(`{"program_id":"executor","backend":"ibm_x","params":{"schema_version":"v2.0","quantum_program":{"shots":1000,
"circuits":{"b64_data":%q,"qpy_version":17,"num_programs":2},
"items":[{"item_type":"circuit","circuit_arguments":{"data":"eJw=","shape":%s,"dtype":"f64"},"shape":[],"chunk_size":"auto"},
{"item_type":"samplex","samplex":{"ssv":4,"samplex_json":"{}"},"samplex_arguments":{"parameter_values":`+args+`},"shape":%s,"chunk_size":"auto"}],
"semantic_role":null,"meas_level":"classified","passthrough_data":null},"options":{"init_qubits":true}}}`, circuits, argShape, samplexShape)
	}
	learner := func(options string) string {
		return `{"program_id":"noise-learner","backend":"ibm_x","params":{"circuits":[{"__type__":"QuantumCircuit","__value__":"` +
			circuittest.Compressed(bell) + `"}],"options":` + options + `}}`
	}
	for _, tc := range []struct {
		name       string
		body       string
		executions []int
		shots      int
		code       string
	}{
		{"executor: a circuit item over 2 bindings and a samplex item of 32 randomizations", executor(two, "[2,3]", "[32]"), []int{2, 32}, 34000, ""},
		{"executor: a parameterless circuit runs once", executor(two, "[0]", "[4,8]"), []int{1, 32}, 33000, ""},
		{"executor: fewer circuits than items", executor(one, "[2,3]", "[32]"), nil, 0, "invalid_params"},
		{"executor: malformed QPY", executor(base64.StdEncoding.EncodeToString([]byte("not zlib")), "[2,3]", "[32]"), nil, 0, CodeInvalidCircuit},
		{"executor: a negative axis", executor(two, "[2,3]", "[-1]"), nil, 0, "invalid_params"},
		{"executor: another schema is not sized", `{"program_id":"executor","params":{"schema_version":"v1.0","quantum_program":{}}}`, nil, -1, ""},
		{"noise learner: the documented defaults", learner(`{"support_qiskit":true}`), []int{4 * 6 * 9 * 32}, 4 * 6 * 9 * 32 * 128, ""},
		{"noise learner: options set", learner(`{"max_layers_to_learn":1,"num_randomizations":8,"shots_per_randomization":64,"layer_pair_depths":[0,1]}`),
			[]int{1 * 2 * 9 * 8}, 1 * 2 * 9 * 8 * 64, ""},
		{"noise learner: every layer is unbounded", learner(`{"max_layers_to_learn":null}`), nil, -1, ""},
		{"calibrate has no size", `{"program_id":"calibrate","params":{"options":{}}}`, nil, -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := DecodeSubmission([]byte(tc.body), circuit.DefaultLimits)
			if tc.code != "" {
				require.NotNil(t, err)
				assert.Equal(t, tc.code, err.Code, err.Message)
				return
			}
			require.Nil(t, err)
			assert.Equal(t, tc.shots, sub.Shots)
			require.Len(t, sub.Pubs, len(tc.executions))
			for i, n := range tc.executions {
				assert.True(t, sub.Pubs[i].Known)
				assert.Equal(t, n, sub.Pubs[i].Bindings, "item %d", i)
			}
			if len(sub.Pubs) == 2 {
				assert.Equal(t, 1, sub.Pubs[1].Facts.Ops["if_else"], "each item's circuit, in order")
			}
		})
	}
}

// TestExecutorProgram reads an executor job to run it: circuit items
// become pubs of their circuit, bindings and the program's shots; what
// the simulator does not run is a 400 naming the item.
func TestExecutorProgram(t *testing.T) {
	rz := circuittest.Build(17, 1, 1, []circuittest.Reg{{Name: "c", Bits: []int64{0}}}, []circuittest.Instr{
		{Class: "RZGate", Qubits: []uint32{0}, Params: [][]byte{circuittest.ParamRef("a", 1)}},
		{Class: "Measure", Qubits: []uint32{0}, Clbits: []uint32{0}},
	})
	circuits := circuittest.Compressed(circuittest.Stream(17, rz))
	values := circuittest.Compressed(Float64Bytes([]float64{0.5, 1.5}))
	params := func(item string) []byte {
		return []byte(fmt.Sprintf(`{"schema_version":"v2.0","quantum_program":{"shots":7,"circuits":{"b64_data":%q,"qpy_version":17,"num_programs":1},"items":[%s]}}`, circuits, item))
	}
	prim, err := DecodePrimitive(ProgramExecutor, params(`{"item_type":"circuit","circuit_arguments":{"data":"`+values+`","shape":[2,1],"dtype":"f64"},"shape":[]}`))
	require.Nil(t, err)
	require.Len(t, prim.Pubs, 1)
	p := prim.Pubs[0]
	assert.Equal(t, []int{2}, p.Shape)
	assert.Equal(t, 7, p.Shots)
	assert.Equal(t, map[string]float64{"a": 1.5}, p.Bindings.Map(1, p.Circuit.Parameters))

	for _, tc := range []struct{ name, item, msg string }{
		{"a samplex item", `{"item_type":"samplex","samplex":{},"samplex_arguments":{},"shape":[2]}`, "samplex items are not run"},
		{"values per binding unlike the parameters", `{"item_type":"circuit","circuit_arguments":{"data":"` + values + `","shape":[1,2],"dtype":"f64"},"shape":[]}`, "2 values per binding for a circuit of 1"},
		{"data shorter than its shape", `{"item_type":"circuit","circuit_arguments":{"data":"` + values + `","shape":[4,1],"dtype":"f64"},"shape":[]}`, "not the 4 values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodePrimitive(ProgramExecutor, params(tc.item))
			require.NotNil(t, err)
			assert.Equal(t, 400, StatusOf(err.Code))
			assert.Contains(t, err.Message, tc.msg)
		})
	}
}

// TestMalformedQPY: QPY, which the gateway reads whole, fails only when
// its bytes are malformed, and then the job is a 400 invalid_circuit
// naming the pub, the place and what was expected; OpenQASM the gateway
// cannot read leaves the job's size unknown.
func TestMalformedQPY(t *testing.T) {
	good := circuittest.Teleported(17)
	outside := circuittest.Build(17, 1, 1, nil, []circuittest.Instr{{Class: "XGate", Qubits: []uint32{3}}})
	for _, tc := range []struct {
		name string
		qpy  []byte
		msg  string
	}{
		{"truncated", good[:len(good)-60], "truncated"},
		{"a qubit outside the circuit", outside, "instruction 0 (offset"},
		{"not QPY", []byte("QISKAT"), "no QISKIT header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"program_id":"sampler","backend":"ibm_x","params":{"pubs":[[{"__type__":"QuantumCircuit","__value__":"` + circuittest.Compressed(tc.qpy) + `"}]]}}`
			_, err := DecodeSubmission([]byte(body), circuit.DefaultLimits)
			require.NotNil(t, err)
			assert.Equal(t, CodeInvalidCircuit, err.Code)
			assert.Equal(t, 400, StatusOf(err.Code))
			assert.Contains(t, err.Message, "pubs[0]")
			assert.Contains(t, err.Message, tc.msg)
		})
	}
	sub, err := DecodeSubmission([]byte(`{"program_id":"sampler","backend":"ibm_x","params":{"pubs":[["OPENQASM 3.0; bit c; qubit q; c = measure q; if (c) { x q; }"]]}}`), circuit.DefaultLimits)
	require.Nil(t, err)
	assert.False(t, sub.Pubs[0].Known, "OpenQASM control flow is not read: the size is unknown")
}

// TestProgramShotsDoNotOverflow: shots that would overflow a job's total
// saturate it, far past any limit, instead of wrapping into a small one;
// the simulator refuses an executor job past its shots.
func TestProgramShotsDoNotOverflow(t *testing.T) {
	stream := circuittest.Compressed(circuittest.Stream(17, circuittest.Teleported(17)))
	body := fmt.Sprintf(`{"program_id":"executor","backend":"ibm_x","params":{"schema_version":"v2.0","quantum_program":{"shots":4611686018427387905,
"circuits":{"b64_data":%q},"items":[{"item_type":"circuit","circuit_arguments":{"data":"eJwDAAAAAAE=","shape":[8,0],"dtype":"f64"},"shape":[]}]}}}`, stream)
	sub, err := DecodeSubmission([]byte(body), circuit.DefaultLimits)
	require.Nil(t, err)
	assert.Greater(t, sub.Shots, MaxShotsPerJob, "saturated, not wrapped")
	learner := `{"program_id":"noise-learner","backend":"ibm_x","params":{"circuits":[{"__type__":"QuantumCircuit","__value__":"` +
		circuittest.Compressed(circuittest.Teleported(17)) + `"}],"options":{"max_layers_to_learn":1,"num_randomizations":4,"layer_pair_depths":[0],"shots_per_randomization":4611686018427387904}}}`
	sub, err = DecodeSubmission([]byte(learner), circuit.DefaultLimits)
	require.Nil(t, err)
	assert.Greater(t, sub.Shots, MaxShotsPerJob)

	var params struct {
		Params json.RawMessage `json:"params"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &params))
	_, err = DecodePrimitive(ProgramExecutor, params.Params)
	require.NotNil(t, err)
	assert.Equal(t, "too_many_shots", err.Code)
}
