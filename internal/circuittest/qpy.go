// Package circuittest writes circuits for tests: QPY laid out the way
// Qiskit's writer lays it out, for the features and sizes the real
// payloads in the tests do not cover, and OpenQASM of given shapes.
package circuittest

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
)

// builder writes QPY fields, big-endian.
type builder struct{ bytes.Buffer }

func (b *builder) u8(v uint8) *builder { b.WriteByte(v); return b }
func (b *builder) u16(v uint16) *builder {
	b.Write(binary.BigEndian.AppendUint16(nil, v))
	return b
}
func (b *builder) u32(v uint32) *builder {
	b.Write(binary.BigEndian.AppendUint32(nil, v))
	return b
}
func (b *builder) u64(v uint64) *builder {
	b.Write(binary.BigEndian.AppendUint64(nil, v))
	return b
}
func (b *builder) str(s string) *builder { b.WriteString(s); return b }

// Instr is one instruction: its class name, its qubits and clbits, its
// parameters (each a type byte followed by its data), its extras byte and
// its control qubit count and state.
type Instr struct {
	Class          string
	Qubits, Clbits []uint32
	Params         [][]byte
	Extras         uint8
	Ctrl, State    uint32
	// CondClbit, with Extras 1, conditions the instruction on that clbit
	// equalling CondValue, as Qiskit writes an if_else on one bit.
	CondClbit int
	CondValue uint64
}

// headerSize is the size of a QPY file's header before its circuit.
func headerSize(version uint8) int {
	if version >= 16 {
		return 28
	}
	return 20
}

// Block is a circuit as QPY writes one inside an instruction (an
// if_else's block, a definition): a typed 'q' parameter.
func Block(version uint8, qubits, clbits uint32, instrs []Instr) []byte {
	return append([]byte{'q'}, Build(version, qubits, clbits, nil, instrs)[headerSize(version):]...)
}

// Reg is a classical register.
type Reg struct {
	Name string
	Bits []int64
}

// Custom is a custom gate of a circuit's custom operation table, with
// its definition: a circuit of Qubits qubits.
type Custom struct {
	Name       string
	Qubits     uint32
	Definition []Instr
}

// Build writes a QPY file of the given version with one circuit.
func Build(version uint8, qubits, clbits uint32, cregs []Reg, instrs []Instr) []byte {
	return BuildCustom(version, qubits, clbits, cregs, nil, instrs)
}

// BuildCustom writes a QPY file of the given version with one circuit
// that defines custom gates, as Qiskit writes a gate made with to_gate().
func BuildCustom(version uint8, qubits, clbits uint32, cregs []Reg, customs []Custom, instrs []Instr) []byte {
	b := &builder{}
	b.str("QISKIT").u8(version).u8(2).u8(3).u8(0).u64(1).u8('p').u8('q')
	if version >= 16 {
		b.u64(28) // offset table: the circuit follows it
	}
	b.u16(4).u8('f').u16(8).u32(qubits).u32(clbits).u64(2).u32(uint32(len(cregs))).u64(uint64(len(instrs))).u32(0)
	b.str("test").u64(0).str("{}")
	for _, r := range cregs {
		b.u8('c').u8(1).u32(uint32(len(r.Bits))).u16(uint16(len(r.Name))).u8(1).str(r.Name)
		for _, i := range r.Bits {
			b.u64(uint64(i))
		}
	}
	if version >= 15 {
		b.u32(1).u32(3).u64(2).str("ns1").str("{}") // one annotation namespace
	}
	b.u64(uint64(len(customs)))
	for _, c := range customs {
		def := Build(version, c.Qubits, 0, nil, c.Definition)[headerSize(version):]
		b.u16(uint16(len(c.Name))).u8('g').u32(c.Qubits).u32(0).u8(1).u64(uint64(len(def))).u32(0).u32(0).u64(0)
		b.str(c.Name).Write(def)
	}
	for _, in := range instrs {
		b.u16(uint16(len(in.Class))).u16(0).u16(uint16(len(in.Params))).u32(uint32(len(in.Qubits))).u32(uint32(len(in.Clbits)))
		cond := ""
		if in.Extras&0x03 == 1 {
			cond = "\x00" + strconv.Itoa(in.CondClbit)
		}
		b.u8(in.Extras).u16(uint16(len(cond))).u64(in.CondValue).u32(in.Ctrl).u32(in.State).str(in.Class).str(cond)
		for _, q := range in.Qubits {
			b.u8('q').u32(q)
		}
		for _, c := range in.Clbits {
			b.u8('c').u32(c)
		}
		for _, p := range in.Params {
			b.u8(p[0]).u64(uint64(len(p) - 1)).Write(p[1:])
		}
		if in.Extras&0x80 != 0 {
			b.u32(1).u32(0).u64(3).str("ann")
		}
	}
	b.u16(0)                                                              // calibrations
	b.u8(0).u32(0xffffffff).u32(0xffffffff).u32(0xffffffff).u32(0).u32(0) // no layout
	return b.Bytes()
}

// FloatParam is a float instruction parameter.
func FloatParam(v float64) []byte {
	return append([]byte{'f'}, binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))...)
}

func paramSymbol(name string, id byte) []byte {
	b := &builder{}
	b.u16(uint16(len(name))).Write(bytes.Repeat([]byte{id}, 16))
	b.str(name)
	return b.Bytes()
}

// ParamRef is a Parameter instruction parameter.
func ParamRef(name string, id byte) []byte { return append([]byte{'p'}, paramSymbol(name, id)...) }

// VectorRef is a ParameterVectorElement instruction parameter.
func VectorRef(name string, index uint64, id byte) []byte {
	b := &builder{}
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

// BEFloat is a 16-byte expression operand holding v.
func BEFloat(v float64) []byte {
	return append(make([]byte, 8), binary.BigEndian.AppendUint64(nil, math.Float64bits(v))...)
}

// ExprParam is a ParameterExpression instruction parameter: it encodes 2*theta + sin(phi) with theta and phi in the symbol table.
func ExprParam() []byte {
	ops := append(exprOp(2, 'f', BEFloat(2), 'p', bytes.Repeat([]byte{1}, 16)),
		exprOp(5, 'p', bytes.Repeat([]byte{2}, 16), 'n', nil)...)
	ops = append(ops, exprOp(0, 'n', nil, 'n', nil)...)
	b := &builder{}
	b.u64(2).u64(uint64(len(ops))).Write(ops)
	for _, s := range []struct {
		name string
		id   byte
	}{{"theta", 1}, {"phi", 2}} {
		b.u8('p').u8('p').u64(0).Write(paramSymbol(s.name, s.id))
	}
	return append([]byte{'e'}, b.Bytes()...)
}

// BellByCustomGate is a circuit of 2 qubits and a register "meas" of 2
// bits that prepares a Bell pair with a custom gate "bell_pair" (h, then
// cx, as its definition) and measures both qubits: every shot reads 00
// or 11.
func BellByCustomGate(version uint8) []byte {
	return BuildCustom(version, 2, 2, []Reg{{Name: "meas", Bits: []int64{0, 1}}},
		[]Custom{{Name: "bell_pair", Qubits: 2, Definition: []Instr{
			{Class: "HGate", Qubits: []uint32{0}}, {Class: "CXGate", Qubits: []uint32{0, 1}, Ctrl: 1, State: 1},
		}}},
		[]Instr{
			{Class: "bell_pair", Qubits: []uint32{0, 1}},
			{Class: "Measure", Qubits: []uint32{0}, Clbits: []uint32{0}},
			{Class: "Measure", Qubits: []uint32{1}, Clbits: []uint32{1}},
		})
}

// Teleported is a dynamic circuit of 2 qubits and a register "c" of 2
// bits: h and a mid-circuit measurement of qubit 0 into c[0], then an
// if_else on c[0] == 1 whose block flips qubit 1, then qubit 1 measured
// into c[1]: every shot reads 00 or 11.
func Teleported(version uint8) []byte {
	block := Block(version, 1, 1, []Instr{{Class: "XGate", Qubits: []uint32{0}}})
	return Build(version, 2, 2, []Reg{{Name: "c", Bits: []int64{0, 1}}}, []Instr{
		{Class: "HGate", Qubits: []uint32{0}},
		{Class: "Measure", Qubits: []uint32{0}, Clbits: []uint32{0}},
		{Class: "IfElseOp", Qubits: []uint32{1}, Clbits: []uint32{0}, Extras: 1, CondClbit: 0, CondValue: 1, Params: [][]byte{block}},
		{Class: "Measure", Qubits: []uint32{1}, Clbits: []uint32{1}},
	})
}

// Stream writes a QPY file holding several circuits, each made by Build
// with the same version, as the executor's clients send them.
func Stream(version uint8, circuits ...[]byte) []byte {
	b := &builder{}
	b.str("QISKIT").u8(version).u8(2).u8(3).u8(0).u64(uint64(len(circuits))).u8('p').u8('q')
	offset := 20 + 8*len(circuits)
	if version >= 16 {
		for _, c := range circuits {
			b.u64(uint64(offset))
			offset += len(c) - headerSize(version)
		}
	}
	for _, c := range circuits {
		b.Write(c[headerSize(version):])
	}
	return b.Bytes()
}

// Compressed is data as qiskit-ibm-runtime sends binary values: base64
// of zlib.
func Compressed(data []byte) string {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	_, _ = zw.Write(data)
	_ = zw.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}
