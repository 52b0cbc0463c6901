package circuit

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"io"
	"math"
	"reflect"
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
		{"conditioned", circuittest.Build(17, 1, 1, nil, []circuittest.Instr{{Class: "XGate", Qubits: []uint32{0}, Extras: 1}}), "classically conditioned"},
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
	f.Add(circuittest.Build(17, 3, 2, []circuittest.Reg{{Name: "c", Bits: []int64{0, 1}}}, []circuittest.Instr{
		{Class: "RZGate", Qubits: []uint32{1}, Params: [][]byte{circuittest.ExprParam()}, Extras: 0x80},
		{Class: "Measure", Qubits: []uint32{0}, Clbits: []uint32{1}},
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseQPY(data)
		facts, ferr := Reader{Budget: NewBudget(Limits{Instructions: 1 << 16, Expansion: 1 << 16, Bytes: 1 << 20})}.QPY(bytes.NewReader(data))
		if err != nil {
			if ferr == nil && len(data) <= 1<<20 {
				t.Fatalf("the stream read accepted what the full read refused: %v", err)
			}
			return
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
