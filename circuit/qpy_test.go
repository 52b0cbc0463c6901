package circuit

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/circuittest"
)

// Real QPY payloads as qiskit-ibm-runtime sends them (base64 of zlib).
const (
	// QPY 14 from Qiskit 2.3.0: QuantumCircuit(2) with cz(0, 1).
	qpyCZ = "eJwL9Az29gzhY2JmgALGgkIGrjQGDiCTiQEBQGxGmBIQkZxZlFyaWaJrYghTUl1byAhWychYyIAKGOEsNiTzsChidI5yTyxJBesvhIr9RwIwtQDCQRet"
	// QPY 11 from Qiskit 1.0.0: EfficientSU2(4) with every angle 0.4.
	qpyEfficientSU2 = "eJwL9Az29gzhZmSAAcbUQgaeNAYOIJOFAQGYQFJQtpxrWlpmcmZqXklwqBFMQXVtISNYDyNjIQMqYEQyAwSY4TJsUFlGBuwgKNI9sSQVbF4aVIhj1kwQuGlPWHMUJZrhNjNSYjMOzSDAhKkPbKZzBNzZYBOGRCAxUWIzDs0gQDiQwKmNaTQ+MZxKUXwyU2IzDs0gQDiQmMAmjCY9DKeSo3k0PgcykBgY/iMBmBYAoCbiPA=="
)

func inflate(t testing.TB, b64 string) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	zr, err := zlib.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}

func TestParseRealQPY(t *testing.T) {
	c, err := ParseQPY(inflate(t, qpyCZ))
	require.NoError(t, err)
	assert.Equal(t, 2, c.NumQubits)
	require.Len(t, c.Ops, 1)
	assert.Equal(t, Op{Kind: OpGate, Name: "cz", Qubits: []int{0, 1}, Clbit: -1}, c.Ops[0])

	c, err = ParseQPY(inflate(t, qpyEfficientSU2))
	require.NoError(t, err)
	assert.Equal(t, 4, c.NumQubits)
	f := c.Facts
	assert.Equal(t, 30, len(c.Ops))
	assert.Equal(t, map[string]int{"ry": 12, "rz": 12, "cx": 6}, f.Ops)
	v, err := c.Ops[0].Params[0].Eval(nil)
	require.NoError(t, err)
	assert.Equal(t, 0.4, v)
	_, err = c.Lower(nil)
	require.NoError(t, err)
}

func TestParseQPYFeatures(t *testing.T) {
	instrs := []circuittest.Instr{
		{Class: "HGate", Qubits: []uint32{0}},
		{Class: "CXGate", Qubits: []uint32{0, 1}, Ctrl: 1, State: 1},
		{Class: "RZGate", Qubits: []uint32{1}, Params: [][]byte{circuittest.ExprParam()}, Extras: 0x80},
		{Class: "RYGate", Qubits: []uint32{2}, Params: [][]byte{circuittest.VectorRef("v", 10, 3)}},
		{Class: "RXGate", Qubits: []uint32{2}, Params: [][]byte{circuittest.VectorRef("v", 2, 4)}},
		{Class: "PhaseGate", Qubits: []uint32{0}, Params: [][]byte{circuittest.ParamRef("alpha", 5)}},
		{Class: "SXGate", Qubits: []uint32{3}},
		{Class: "Barrier", Qubits: []uint32{0, 1, 2, 3}},
		{Class: "Delay", Qubits: []uint32{3}, Params: [][]byte{circuittest.FloatParam(160)}},
		{Class: "Measure", Qubits: []uint32{0}, Clbits: []uint32{1}},
		{Class: "Measure", Qubits: []uint32{1}, Clbits: []uint32{0}},
	}
	for _, version := range []uint8{13, 14, 15, 16, 17} {
		c, err := ParseQPY(circuittest.Build(version, 4, 2, []circuittest.Reg{{Name: "meas", Bits: []int64{1, 0}}}, instrs))
		require.NoError(t, err, "version %d", version)
		assert.Equal(t, []Register{{Name: "meas", Bits: []int{1, 0}}}, c.Registers)
		assert.Equal(t, []string{"alpha", "phi", "theta", "v[2]", "v[10]"}, c.Parameters, "Qiskit's parameter order")
		require.Len(t, c.Ops, len(instrs))
		v, err := c.Ops[2].Params[0].Eval(map[string]float64{"theta": 0.25, "phi": 0.5})
		require.NoError(t, err)
		assert.InDelta(t, 0.5+math.Sin(0.5), v, 1e-12)
		assert.Equal(t, OpMeasure, c.Ops[9].Kind)
		assert.Equal(t, 1, c.Ops[9].Clbit)
		assert.Equal(t, "delay", c.Ops[8].Name)
		f := c.Facts
		assert.Equal(t, []int{0, 1, 2, 3}, f.ActiveQubits)
		assert.Equal(t, 1, f.TwoQubitGates)
	}
}

func TestParseQPYErrors(t *testing.T) {
	good := circuittest.Build(17, 2, 1, []circuittest.Reg{{Name: "c", Bits: []int64{0}}}, []circuittest.Instr{{Class: "HGate", Qubits: []uint32{0}}})
	for _, tc := range []struct {
		name string
		data []byte
		msg  string
	}{
		{"not qpy", []byte("OPENQASM 3.0;"), "not a QPY file"},
		{"too new", append(append([]byte("QISKIT"), 18), good[7:]...), "QPY version 18 is not supported"},
		{"too old", append(append([]byte("QISKIT"), 9), good[7:]...), "QPY version 9 is not supported"},
		{"truncated", good[:40], "truncated"},
		{"conditioned on a bit outside the circuit", circuittest.Build(17, 1, 1, nil, []circuittest.Instr{{Class: "XGate", Qubits: []uint32{0}, Extras: 1, CondClbit: 5}}), "classically conditioned"},
		{"unknown instruction", circuittest.Build(17, 1, 0, nil, []circuittest.Instr{{Class: "Initialize", Qubits: []uint32{0}}}), `"Initialize" is not supported`},
		{"open control", circuittest.Build(17, 2, 0, nil, []circuittest.Instr{{Class: "CXGate", Qubits: []uint32{0, 1}, Ctrl: 1, State: 0}}), "open controls"},
		{"wrong arity", circuittest.Build(17, 1, 0, nil, []circuittest.Instr{{Class: "RZGate", Qubits: []uint32{0}}}), "takes 1 parameters"},
		{"qubit out of range", circuittest.Build(17, 1, 0, nil, []circuittest.Instr{{Class: "XGate", Qubits: []uint32{3}}}), "outside the circuit"},
		{"register out of range", circuittest.Build(17, 1, 1, []circuittest.Reg{{Name: "c", Bits: []int64{4}}}, nil), "refers to clbit 4"},
		{"complex angle", circuittest.Build(17, 1, 0, nil, []circuittest.Instr{{Class: "RZGate", Qubits: []uint32{0}, Params: [][]byte{append([]byte{'c'}, append(circuittest.BEFloat(0)[8:], circuittest.BEFloat(1)[8:]...)...)}}}), "is not real"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseQPY(tc.data)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

// FuzzParseQPY reads every input both ways, keeping its operations and
// for its facts only from a stream within a small budget: both readings
// agree, and neither panics.
func FuzzParseQPY(f *testing.F) {
	f.Add(inflate(f, qpyCZ))
	f.Add(inflate(f, qpyEfficientSU2))
	custom, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(vector(f, "custom_gate_v12.b64"))))
	f.Add(custom)
	var body struct {
		Params json.RawMessage `json:"params"`
	}
	_ = json.Unmarshal(vector(f, "sampler_if_else_v17.json"), &body)
	f.Add(pubCircuits(f, body.Params)[0])
	f.Add(circuittest.Build(17, 3, 2, []circuittest.Reg{{Name: "c", Bits: []int64{0, 1}}}, []circuittest.Instr{
		{Class: "RZGate", Qubits: []uint32{1}, Params: [][]byte{circuittest.ExprParam()}, Extras: 0x80},
		{Class: "Measure", Qubits: []uint32{0}, Clbits: []uint32{1}},
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseQPY(data)
		facts, ferr := Reader{Budget: NewBudget(DefaultLimits)}.QPY(bytes.NewReader(data))
		if ferr != nil && err == nil {
			t.Fatalf("the gateway's read refused what the simulator's accepted: %v", ferr)
		}
		if err != nil {
			return // the gateway also reads what only the simulator refuses: control flow, unknown operations
		}
		if ferr == nil && !reflect.DeepEqual(facts.Facts, c.Facts) {
			t.Fatalf("facts differ: %+v and %+v", facts.Facts, c.Facts)
		}
		values := map[string]float64{}
		for _, p := range c.Parameters {
			values[p] = 0.5
		}
		_, _ = c.Lower(values)
	})
}

// vector reads a test vector of testdata/qpy.
func vector(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "qpy", name))
	require.NoError(t, err)
	return data
}

// pubCircuits returns the inflated QPY of each pub's circuit of a job's
// params.
func pubCircuits(t testing.TB, params []byte) [][]byte {
	t.Helper()
	var doc struct {
		Pubs [][]json.RawMessage `json:"pubs"`
	}
	require.NoError(t, json.Unmarshal(params, &doc))
	var out [][]byte
	for _, pub := range doc.Pubs {
		var c struct {
			Value string `json:"__value__"`
		}
		require.NoError(t, json.Unmarshal(pub[0], &c))
		out = append(out, inflate(t, c.Value))
	}
	return out
}

// TestRealEncoderVectors reads QPY written by real Qiskit releases
// (testdata/qpy/README.md says where each comes from) and checks the
// facts the gateway governs by, and what the simulator runs.
func TestRealEncoderVectors(t *testing.T) {
	t.Run("a custom gate, QPY 12 from Qiskit 1.2.0", func(t *testing.T) {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(vector(t, "custom_gate_v12.b64"))))
		require.NoError(t, err)
		c, err := ParseQPY(raw)
		require.NoError(t, err, "the definition is expanded for the simulator")
		f := c.Facts
		assert.Equal(t, 3, f.NumQubits)
		assert.Equal(t, map[string]int{"dcx_fd7be57194594de69d1e13f6afbf56fc": 1, "cz": 1, "sdg": 1, "u3": 1, "crx": 1, "y": 1}, f.Ops,
			"counted as written, the custom gate once")
		assert.Equal(t, 4, f.Depth, "cz; the custom gate's two cx after sdg; crx after them and u3")
		assert.Equal(t, 4, f.TwoQubitGates, "cz, the definition's two cx, crx")
		var names []string
		for _, op := range c.Ops {
			names = append(names, op.Name+fmt.Sprint(op.Qubits))
		}
		assert.Equal(t, []string{"cz[0 2]", "sdg[1]", "cx[2 1]", "cx[1 2]", "u3[0]", "crx[1 0]", "y[2]"}, names,
			"the simulator runs the definition on the call's qubits")
		theta, err := c.Ops[5].Params[0].Eval(nil)
		require.NoError(t, err)
		assert.InDelta(t, 2.3585459177723522, theta, 1e-15)
	})

	t.Run("a dynamic circuit, QPY 17 from Qiskit 2.4.1", func(t *testing.T) {
		var body struct {
			Params json.RawMessage `json:"params"`
		}
		require.NoError(t, json.Unmarshal(vector(t, "sampler_if_else_v17.json"), &body))
		qpy := pubCircuits(t, body.Params)
		require.Len(t, qpy, 1)
		c, err := Reader{Budget: NewBudget(DefaultLimits)}.QPY(bytes.NewReader(qpy[0]))
		require.NoError(t, err, "the gateway reads it")
		f := c.Facts
		assert.Equal(t, 156, f.NumQubits, "from the header")
		assert.Equal(t, 7, f.NumClbits)
		assert.Equal(t, []int{20, 21, 22, 36}, f.ActiveQubits)
		assert.Equal(t, map[string]int{"barrier": 1, "cz": 12, "if_else": 3, "measure": 7, "rz": 46, "sx": 35}, f.Ops,
			"counted as written: each if_else once, its block (x, rz, rz, x on three qubits) placed for the depth")
		assert.Equal(t, 7, f.Measurements)
		assert.Equal(t, 72, f.Depth, "each if_else's block after the measurement its condition reads")
		run, err := ParseQPY(qpy[0])
		require.NoError(t, err, "the simulator runs if_else on measured bits")
		assert.Equal(t, f, run.Facts, "the gateway and the simulator read the same facts")
		conditioned := map[string]int{}
		for _, op := range run.Ops {
			if len(op.Conds) > 0 {
				require.Len(t, op.Conds, 1)
				conditioned[fmt.Sprintf("%s if c%v == %d", op.Name, op.Conds[0].Bits, op.Conds[0].Value)]++
			}
		}
		assert.Equal(t, map[string]int{"x if c[0] == 1": 2, "rz if c[0] == 1": 2, "x if c[1] == 1": 2, "rz if c[1] == 1": 2,
			"x if c[2] == 1": 2, "rz if c[2] == 1": 2}, conditioned, "each block's x, rz, rz, x under its measured bit")
	})

	t.Run("estimator pubs, QPY 14 from Qiskit 2.3.0", func(t *testing.T) {
		qpy := pubCircuits(t, vector(t, "estimator_params_v14.json"))
		require.Len(t, qpy, 2)
		cz, err := ParseQPY(qpy[0])
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"cz": 1}, cz.Facts.Ops)
		assert.Equal(t, []int{0, 1}, cz.Facts.ActiveQubits)
		rz, err := ParseQPY(qpy[1])
		require.NoError(t, err)
		assert.Equal(t, []string{"p"}, rz.Parameters)
		assert.Equal(t, map[string]int{"rz": 1}, rz.Facts.Ops)
	})
}

// TestIfElse reads an if_else on a mid-circuit measurement: the facts
// count it as written and its block for the depth, and the simulator's
// operations run its block under the measured bit.
func TestIfElse(t *testing.T) {
	for _, version := range []uint8{13, 17} {
		c, err := ParseQPY(circuittest.Teleported(version))
		require.NoError(t, err, "version %d", version)
		assert.Equal(t, map[string]int{"h": 1, "measure": 2, "if_else": 1}, c.Facts.Ops)
		assert.Equal(t, 4, c.Facts.Depth, "h, measure, the block's x after the measured bit, measure")
		require.Len(t, c.Ops, 4)
		assert.Equal(t, []Condition{{Bits: []int{0}, Value: 1}}, c.Ops[2].Conds)
		assert.Equal(t, []int{1}, c.Ops[2].Qubits)
	}
}

// TestSeveralCircuits reads streams of several circuits, with and without
// an offset table, each drawing on one budget.
func TestSeveralCircuits(t *testing.T) {
	bell := []circuittest.Instr{{Class: "HGate", Qubits: []uint32{0}}, {Class: "CXGate", Qubits: []uint32{0, 1}, Ctrl: 1, State: 1}}
	for _, version := range []uint8{13, 15, 16, 17} {
		stream := circuittest.Stream(version,
			circuittest.Build(version, 2, 0, nil, bell),
			circuittest.Teleported(version),
			circuittest.Build(version, 3, 0, nil, []circuittest.Instr{{Class: "CCXGate", Qubits: []uint32{0, 1, 2}, Ctrl: 2, State: 3}}))
		cs, err := Reader{Budget: NewBudget(DefaultLimits)}.QPYCircuits(bytes.NewReader(stream), 10)
		require.NoError(t, err, "version %d", version)
		require.Len(t, cs, 3)
		assert.Equal(t, map[string]int{"h": 1, "cx": 1}, cs[0].Facts.Ops)
		assert.Equal(t, map[string]int{"h": 1, "measure": 2, "if_else": 1}, cs[1].Facts.Ops)
		assert.Equal(t, 1, cs[2].Facts.MultiQubitGates)

		_, err = Reader{Budget: NewBudget(DefaultLimits)}.QPYCircuits(bytes.NewReader(stream), 2)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "holds 3 programs; 1 to 2 circuits are expected")
		_, err = ParseQPY(stream)
		require.Error(t, err, "a pub's circuit is one")
	}
}
