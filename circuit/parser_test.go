package circuit

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseValid(t *testing.T) {
	for _, tc := range []struct {
		name      string
		src       string
		qubits    int
		clbits    int
		regs      []Register
		params    []string
		physical  bool
		facts     Facts
		numOps    int
		firstGate string
	}{
		{
			name: "bell openqasm 2",
			src: `OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;`,
			qubits: 2, clbits: 2, regs: []Register{{"c", seq(0, 2)}}, numOps: 4, firstGate: "h",
			facts: Facts{Depth: 3, TwoQubitGates: 1, Measurements: 2, ActiveQubits: []int{0, 1}},
		},
		{
			name: "bell openqasm 3 with register assignment",
			src: `OPENQASM 3.0;
include "stdgates.inc";
bit[2] c;
qubit[2] q;
h q[0];
cx q[0], q[1];
c = measure q;`,
			qubits: 2, clbits: 2, regs: []Register{{"c", seq(0, 2)}}, numOps: 4, firstGate: "h",
			facts: Facts{Depth: 3, TwoQubitGates: 1, Measurements: 2, ActiveQubits: []int{0, 1}},
		},
		{
			name: "qiskit isa circuit on physical qubits",
			src: `OPENQASM 3.0;
include "stdgates.inc";
gate rzx(_gate_p_0) _gate_q_0, _gate_q_1 {
  h _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  rz(_gate_p_0) _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  h _gate_q_1;
}
gate ecr _gate_q_0, _gate_q_1 {
  rzx(pi/4) _gate_q_0, _gate_q_1;
  x _gate_q_0;
  rzx(-pi/4) _gate_q_0, _gate_q_1;
}
bit[2] meas;
rz(-pi/2) $126;
sx $126;
rz(pi) $126;
ecr $126, $112;
barrier $126, $112;
delay[100dt] $5;
meas[0] = measure $126;
meas[1] = measure $112;`,
			qubits: 127, clbits: 2, regs: []Register{{"meas", seq(0, 2)}}, physical: true, numOps: 8, firstGate: "rz",
			facts: Facts{Depth: 5, TwoQubitGates: 1, Measurements: 2, ActiveQubits: []int{112, 126}},
		},
		{
			name: "input parameters sorted by name, expressions and comments",
			src: `OPENQASM 3;
// rotations
input float[64] theta;
input angle alpha; /* block
comment */
qubit[1] q;
rx(2*theta - alpha/3 + cos(pi) ** 2) q[0];
ry(-theta) q[0];`,
			qubits: 1, params: []string{"alpha", "theta"}, numOps: 2, firstGate: "rx",
			facts: Facts{Depth: 2, ActiveQubits: []int{0}},
		},
		{
			name: "broadcast over registers and reset",
			src: `OPENQASM 2.0;
include "qelib1.inc";
qreg a[3];
qreg b[3];
creg c[3];
h a;
cx a, b;
reset a[1];
barrier a, b;
measure b -> c;`,
			qubits: 6, clbits: 3, regs: []Register{{"c", seq(0, 3)}}, numOps: 11, firstGate: "h",
			facts: Facts{Depth: 3, TwoQubitGates: 3, Measurements: 3, ActiveQubits: []int{0, 1, 2, 3, 4, 5}},
		},
		{
			name:   "discarded measurement and single bits",
			src:    "OPENQASM 3.0;\nqubit q;\nbit b;\nx q;\nmeasure q;\nb = measure q;",
			qubits: 1, clbits: 1, regs: []Register{{"b", seq(0, 1)}}, numOps: 3, firstGate: "x",
			facts: Facts{Depth: 3, Measurements: 2, ActiveQubits: []int{0}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.src)
			require.NoError(t, err)
			assert.Equal(t, tc.qubits, c.NumQubits)
			assert.Equal(t, tc.clbits, c.NumClbits)
			assert.Equal(t, tc.regs, c.Registers)
			assert.Equal(t, tc.params, c.Parameters)
			assert.Equal(t, tc.physical, c.Physical)
			assert.Len(t, c.Ops, tc.numOps)
			assert.Equal(t, tc.firstGate, c.Ops[0].Name)
			f := c.Facts
			assert.Equal(t, tc.facts.Depth, f.Depth, "depth")
			assert.Equal(t, tc.facts.TwoQubitGates, f.TwoQubitGates, "two-qubit gates")
			assert.Equal(t, tc.facts.Measurements, f.Measurements, "measurements")
			assert.Equal(t, tc.facts.ActiveQubits, f.ActiveQubits, "active qubits")
			assert.Equal(t, len(tc.params), f.NumParameters)
		})
	}
}

func TestParseMalformed(t *testing.T) {
	for _, tc := range []struct {
		name      string
		src       string
		line, col int
		msg       string
	}{
		{"missing semicolon", "OPENQASM 3.0;\nqubit[2] q\nh q[0];", 3, 1, `expected ";"`},
		{"unknown gate", "OPENQASM 3.0;\nqubit[1] q;\nfoo q[0];", 3, 1, `unknown gate "foo"`},
		{"index out of range", "OPENQASM 2.0;\nqreg q[2];\nh q[2];", 3, 5, "out of range"},
		{"undeclared register", "OPENQASM 2.0;\nqreg q[2];\nh r[0];", 3, 3, `undeclared qubit register "r"`},
		{"wrong parameter count", "OPENQASM 3.0;\nqubit q;\nrx q;", 3, 1, `takes 1 parameters, got 0`},
		{"wrong qubit count", "OPENQASM 3.0;\nqubit[2] q;\ncx q[0];", 3, 1, "acts on 2 qubits, got 1"},
		{"duplicate qubit", "OPENQASM 3.0;\ncx $1, $1;", 2, 1, "more than once"},
		{"mixing physical and virtual", "OPENQASM 3.0;\nqubit[2] q;\nx $0;", 3, 3, "cannot be mixed"},
		{"undefined parameter", "OPENQASM 3.0;\nrx(theta) $0;", 2, 4, `undefined identifier "theta"`},
		{"unterminated comment", "OPENQASM 3.0;\n/* oops\nx $0;", 2, 1, "unterminated block comment"},
		{"bad character", "OPENQASM 3.0;\nx $0; ?", 2, 7, "unexpected character"},
		{"control flow", "OPENQASM 3.0;\nbit c;\nif (c) x $0;", 3, 1, "classical control flow"},
		{"modifier", "OPENQASM 3.0;\ninv @ x $0;", 2, 1, "gate modifiers"},
		{"unsupported include", "OPENQASM 3.0;\ninclude \"mylib.inc\";", 2, 9, "only stdgates.inc"},
		{"bad version", "OPENQASM 4.0;", 1, 10, "unsupported OpenQASM version"},
		{"measure size mismatch", "OPENQASM 2.0;\nqreg q[2];\ncreg c[1];\nmeasure q -> c;", 4, 9, "measuring 2 qubits into 1 bits"},
		{"zero-size register", "OPENQASM 2.0;\nqreg q[0];", 2, 8, "out of range"},
		{"register redeclared", "OPENQASM 2.0;\nqreg q[1];\ncreg q[1];", 3, 6, "already declared"},
		{"unit-less delay", "OPENQASM 3.0;\ndelay[100] $0;", 2, 7, "has no unit"},
		{"bad gate body qubit", "OPENQASM 3.0;\ngate g a { x b; }", 2, 14, `"b" is not a qubit argument`},
		{"unclosed gate body", "OPENQASM 3.0;\ngate g a { x a;", 2, 16, "expected a gate call"},
		{"version not first", "qubit q;\nOPENQASM 3.0;", 2, 1, "must come first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.src)
			require.Error(t, err)
			var se *SyntaxError
			require.True(t, errors.As(err, &se), "error %v is not a SyntaxError", err)
			assert.Equal(t, tc.line, se.Line, "line of %v", err)
			assert.Equal(t, tc.col, se.Col, "column of %v", err)
			assert.Contains(t, se.Error(), tc.msg)
		})
	}
}

func TestLowerExpandsDefinitionsAndBindsParameters(t *testing.T) {
	c, err := Parse(`OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
gate twice(a) q { rz(a) q; rz(a) q; }
twice(theta/2) $0;
rzz(theta) $0, $1;
ccx $0, $1, $2;
id $2;
swap $0, $2;`)
	require.NoError(t, err)
	_, err = c.Lower(nil)
	require.ErrorContains(t, err, `parameter "theta" has no value`)

	instrs, err := c.Lower(map[string]float64{"theta": 1})
	require.NoError(t, err)
	// twice → 2 rz; rzz → cx, rz, cx; ccx → 1; id → nothing; swap → 1.
	require.Len(t, instrs, 7)
	assert.InDelta(t, real(rz(0.5)[0]), real(instrs[0].Matrix[0]), 1e-12)
	assert.Equal(t, []int{0}, instrs[2].Controls)
	assert.Equal(t, 1, instrs[2].Target)
	assert.Equal(t, []int{0, 1}, instrs[5].Controls)
	assert.Equal(t, InstrSwap, instrs[6].Kind)
	assert.Equal(t, 2, instrs[6].Target2)
}

func TestLowerBoundsExpansion(t *testing.T) {
	// Each level calls the previous one eight times: 8^8 = 16M instructions.
	var b strings.Builder
	b.WriteString("OPENQASM 3.0;\ngate g0 a { x a; }\n")
	for i := 1; i <= 8; i++ {
		b.WriteString("gate g" + string(rune('0'+i)) + " a {")
		for k := 0; k < 8; k++ {
			b.WriteString(" g" + string(rune('0'+i-1)) + " a;")
		}
		b.WriteString(" }\n")
	}
	b.WriteString("g8 $0;\n")
	c, err := Parse(b.String())
	require.NoError(t, err)
	_, err = c.Lower(nil)
	require.ErrorContains(t, err, "more than")
}

// FuzzParse reads every input both ways, keeping its operations and for
// its facts only within a small budget: errors carry a position, both
// readings agree on the facts, and the depth of a circuit that defines no
// gates is at most its number of operations.
func FuzzParse(f *testing.F) {
	f.Add("OPENQASM 3.0;\ninclude \"stdgates.inc\";\nbit[2] c;\nh $0;\ncx $0, $1;\nc = measure $0;")
	f.Add("OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\ncreg c[2];\nh q;\nmeasure q -> c;")
	f.Add("OPENQASM 3;\ninput float[64] t;\ngate g(a) x, y { rz(a*2) x; cx x, y; }\ng(t) $1, $0;")
	f.Add("OPENQASM 3;\ngate a q { h q; h q; }\ngate b q { a q; a q; }\ngate c q { b q; b q; }\nc $0; c $1;")
	f.Fuzz(func(t *testing.T, src string) {
		c, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Col < 1 {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		small := Reader{Budget: NewBudget(Limits{Instructions: 1 << 20, Expansion: 1 << 20})}
		facts, err := small.QASM(src)
		if err != nil {
			t.Fatalf("read for facts: %v (the full parse passed)", err)
		}
		if facts.Ops != nil || !reflect.DeepEqual(facts.Facts, c.Facts) {
			t.Fatalf("facts differ: %+v and %+v (ops kept: %d)", facts.Facts, c.Facts, len(facts.Ops))
		}
		if len(c.gates) == 0 && c.Facts.Depth > len(c.Ops) {
			t.Fatalf("depth %d exceeds %d operations", c.Facts.Depth, len(c.Ops))
		}
		values := map[string]float64{}
		for _, p := range c.Parameters {
			values[p] = 0.5
		}
		_, _ = c.Lower(values)
	})
}
