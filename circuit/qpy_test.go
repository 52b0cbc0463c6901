package circuit

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"io"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	f := c.Facts()
	assert.Equal(t, 30, len(c.Ops))
	assert.Equal(t, map[string]int{"ry": 12, "rz": 12, "cx": 6}, f.Ops)
	v, err := c.Ops[0].Params[0].Eval(nil)
	require.NoError(t, err)
	assert.Equal(t, 0.4, v)
	_, err = c.Lower(nil)
	require.NoError(t, err)
}

// qpyBuilder writes QPY the way Qiskit's writer lays it out, for the
// features the real payloads above do not cover.
type qpyBuilder struct{ bytes.Buffer }

func (b *qpyBuilder) u8(v uint8) *qpyBuilder { b.WriteByte(v); return b }
func (b *qpyBuilder) u16(v uint16) *qpyBuilder {
	b.Write(binary.BigEndian.AppendUint16(nil, v))
	return b
}
func (b *qpyBuilder) u32(v uint32) *qpyBuilder {
	b.Write(binary.BigEndian.AppendUint32(nil, v))
	return b
}
func (b *qpyBuilder) u64(v uint64) *qpyBuilder {
	b.Write(binary.BigEndian.AppendUint64(nil, v))
	return b
}
func (b *qpyBuilder) str(s string) *qpyBuilder { b.WriteString(s); return b }

type qpyInstr struct {
	class          string
	qubits, clbits []uint32
	params         [][]byte // type byte followed by data
	extras         uint8
	ctrl, state    uint32
}

type qpyReg struct {
	name string
	bits []int64
}

// build writes a QPY file of the given version with one circuit.
func buildQPY(version uint8, qubits, clbits uint32, cregs []qpyReg, instrs []qpyInstr) []byte {
	b := &qpyBuilder{}
	b.str("QISKIT").u8(version).u8(2).u8(3).u8(0).u64(1).u8('p').u8('q')
	if version >= 16 {
		b.u64(0) // offset table
	}
	b.u16(4).u8('f').u16(8).u32(qubits).u32(clbits).u64(2).u32(uint32(len(cregs))).u64(uint64(len(instrs))).u32(0)
	b.str("test").u64(0).str("{}")
	for _, r := range cregs {
		b.u8('c').u8(1).u32(uint32(len(r.bits))).u16(uint16(len(r.name))).u8(1).str(r.name)
		for _, i := range r.bits {
			b.u64(uint64(i))
		}
	}
	if version >= 15 {
		b.u32(1).u32(3).u64(2).str("ns1").str("{}") // one annotation namespace
	}
	b.u64(0) // custom instructions
	for _, in := range instrs {
		b.u16(uint16(len(in.class))).u16(0).u16(uint16(len(in.params))).u32(uint32(len(in.qubits))).u32(uint32(len(in.clbits)))
		b.u8(in.extras).u16(0).u64(0).u32(in.ctrl).u32(in.state).str(in.class)
		for _, q := range in.qubits {
			b.u8('q').u32(q)
		}
		for _, c := range in.clbits {
			b.u8('c').u32(c)
		}
		for _, p := range in.params {
			b.u8(p[0]).u64(uint64(len(p) - 1)).Write(p[1:])
		}
		if in.extras&0x80 != 0 {
			b.u32(1).u32(0).u64(3).str("ann")
		}
	}
	b.u16(0)                                                              // calibrations
	b.u8(0).u32(0xffffffff).u32(0xffffffff).u32(0xffffffff).u32(0).u32(0) // no layout
	return b.Bytes()
}

func floatParam(v float64) []byte {
	return append([]byte{'f'}, binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))...)
}

func paramSymbol(name string, id byte) []byte {
	b := &qpyBuilder{}
	b.u16(uint16(len(name))).Write(bytes.Repeat([]byte{id}, 16))
	b.str(name)
	return b.Bytes()
}

func paramRef(name string, id byte) []byte { return append([]byte{'p'}, paramSymbol(name, id)...) }

func vectorRef(name string, index uint64, id byte) []byte {
	b := &qpyBuilder{}
	b.u8('v').u16(uint16(len(name))).u64(4).Write(bytes.Repeat([]byte{id}, 16))
	b.u64(index).str(name)
	return b.Bytes()
}

// exprOp is one 35-byte replay operation.
func exprOp(op, lt byte, lhs []byte, rt byte, rhs []byte) []byte {
	out := []byte{op, lt}
	out = append(out, pad16(lhs)...)
	out = append(out, rt)
	return append(out, pad16(rhs)...)
}

func pad16(b []byte) []byte {
	out := make([]byte, 16)
	copy(out, b)
	return out
}

func beFloat(v float64) []byte {
	return append(make([]byte, 8), binary.BigEndian.AppendUint64(nil, math.Float64bits(v))...)
}

// exprParam encodes 2*theta + sin(phi) with theta and phi in the symbol table.
func exprParam() []byte {
	ops := append(exprOp(2, 'f', beFloat(2), 'p', bytes.Repeat([]byte{1}, 16)),
		exprOp(5, 'p', bytes.Repeat([]byte{2}, 16), 'n', nil)...)
	ops = append(ops, exprOp(0, 'n', nil, 'n', nil)...)
	b := &qpyBuilder{}
	b.u64(2).u64(uint64(len(ops))).Write(ops)
	for _, s := range []struct {
		name string
		id   byte
	}{{"theta", 1}, {"phi", 2}} {
		b.u8('p').u8('p').u64(0).Write(paramSymbol(s.name, s.id))
	}
	return append([]byte{'e'}, b.Bytes()...)
}

func TestParseQPYFeatures(t *testing.T) {
	instrs := []qpyInstr{
		{class: "HGate", qubits: []uint32{0}},
		{class: "CXGate", qubits: []uint32{0, 1}, ctrl: 1, state: 1},
		{class: "RZGate", qubits: []uint32{1}, params: [][]byte{exprParam()}, extras: 0x80},
		{class: "RYGate", qubits: []uint32{2}, params: [][]byte{vectorRef("v", 10, 3)}},
		{class: "RXGate", qubits: []uint32{2}, params: [][]byte{vectorRef("v", 2, 4)}},
		{class: "PhaseGate", qubits: []uint32{0}, params: [][]byte{paramRef("alpha", 5)}},
		{class: "SXGate", qubits: []uint32{3}},
		{class: "Barrier", qubits: []uint32{0, 1, 2, 3}},
		{class: "Delay", qubits: []uint32{3}, params: [][]byte{floatParam(160)}},
		{class: "Measure", qubits: []uint32{0}, clbits: []uint32{1}},
		{class: "Measure", qubits: []uint32{1}, clbits: []uint32{0}},
	}
	for _, version := range []uint8{13, 14, 15, 16, 17} {
		c, err := ParseQPY(buildQPY(version, 4, 2, []qpyReg{{"meas", []int64{1, 0}}}, instrs))
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
		f := c.Facts()
		assert.Equal(t, []int{0, 1, 2, 3}, f.ActiveQubits)
		assert.Equal(t, 1, f.TwoQubitGates)
	}
}

func TestParseQPYErrors(t *testing.T) {
	good := buildQPY(17, 2, 1, []qpyReg{{"c", []int64{0}}}, []qpyInstr{{class: "HGate", qubits: []uint32{0}}})
	for _, tc := range []struct {
		name string
		data []byte
		msg  string
	}{
		{"not qpy", []byte("OPENQASM 3.0;"), "not a QPY file"},
		{"too new", append(append([]byte("QISKIT"), 18), good[7:]...), "QPY version 18 is not supported"},
		{"too old", append(append([]byte("QISKIT"), 9), good[7:]...), "QPY version 9 is not supported"},
		{"truncated", good[:40], "truncated"},
		{"conditioned", buildQPY(17, 1, 1, nil, []qpyInstr{{class: "XGate", qubits: []uint32{0}, extras: 1}}), "classically conditioned"},
		{"unknown instruction", buildQPY(17, 1, 0, nil, []qpyInstr{{class: "Initialize", qubits: []uint32{0}}}), `"Initialize" is not supported`},
		{"open control", buildQPY(17, 2, 0, nil, []qpyInstr{{class: "CXGate", qubits: []uint32{0, 1}, ctrl: 1, state: 0}}), "open controls"},
		{"wrong arity", buildQPY(17, 1, 0, nil, []qpyInstr{{class: "RZGate", qubits: []uint32{0}}}), "takes 1 parameters"},
		{"qubit out of range", buildQPY(17, 1, 0, nil, []qpyInstr{{class: "XGate", qubits: []uint32{3}}}), "outside the circuit"},
		{"register out of range", buildQPY(17, 1, 1, []qpyReg{{"c", []int64{4}}}, nil), "refers to clbit 4"},
		{"complex angle", buildQPY(17, 1, 0, nil, []qpyInstr{{class: "RZGate", qubits: []uint32{0}, params: [][]byte{append([]byte{'c'}, append(beFloat(0)[8:], beFloat(1)[8:]...)...)}}}), "is not real"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseQPY(tc.data)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func FuzzParseQPY(f *testing.F) {
	f.Add(inflate(f, qpyCZ))
	f.Add(inflate(f, qpyEfficientSU2))
	f.Add(buildQPY(17, 3, 2, []qpyReg{{"c", []int64{0, 1}}}, []qpyInstr{
		{class: "RZGate", qubits: []uint32{1}, params: [][]byte{exprParam()}, extras: 0x80},
		{class: "Measure", qubits: []uint32{0}, clbits: []uint32{1}},
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseQPY(data)
		if err != nil {
			return
		}
		values := map[string]float64{}
		for _, p := range c.Parameters {
			values[p] = 0.5
		}
		_, _ = c.Lower(values)
		_ = c.Facts()
	})
}
