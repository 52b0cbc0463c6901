// Package circuit reads OpenQASM 2.0 and 3 programs and QPY-encoded Qiskit
// circuits into a small intermediate form, reports their facts (active
// qubits, depth, gate counts) and lowers them to primitive instructions for
// simulation.
package circuit

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// OpKind is the kind of a circuit operation.
type OpKind int

// Operation kinds.
const (
	OpGate OpKind = iota
	OpMeasure
	OpReset
	OpBarrier
	OpDelay
)

func (k OpKind) String() string {
	return [...]string{"gate", "measure", "reset", "barrier", "delay"}[k]
}

// Op is one operation of a circuit as written in the source: a gate call
// (standard or user-defined), a measurement, a reset, a barrier or a delay.
type Op struct {
	Kind OpKind
	// Name is the gate name for OpGate and the kind's name otherwise.
	Name string
	// Qubits are the qubit indices the operation acts on, in order.
	Qubits []int
	// Clbit is the classical bit a measurement writes, or -1 if the result
	// is discarded.
	Clbit int
	// Params are the gate's angle expressions, or the delay's duration.
	Params []Expr
	// Unit is the duration unit of a delay ("dt", "ns", "us", "ms", "s").
	Unit string
	// Line is the source line of the operation.
	Line int
	// Conds are the classical conditions under which the operation runs,
	// all of them (a block of an if_else, nested in another).
	Conds []Condition
}

// Condition is a test of classical bits as measured so far in a shot:
// the bits (least significant first) equal Value, or, with Else, do not.
type Condition struct {
	Bits  []int
	Value uint64
	Else  bool
}

// Holds reports whether the condition holds for the bits measured so far.
func (c Condition) Holds(bit func(int) bool) bool {
	equal := true
	for i, b := range c.Bits {
		want := i < 64 && c.Value>>i&1 == 1 // a value has 64 bits: the register's others must be 0
		equal = equal && bit(b) == want
	}
	return equal != c.Else
}

// Register is a named classical register; bit i of the register is the
// circuit's classical bit Bits[i].
type Register struct {
	Name string
	Bits []int
}

// Size returns the number of bits in the register.
func (r Register) Size() int { return len(r.Bits) }

// Circuit is a parsed quantum circuit.
type Circuit struct {
	// NumQubits is the width of the qubit index space: the declared qubit
	// count, or the highest physical qubit index plus one.
	NumQubits int
	// NumClbits is the total number of classical bits.
	NumClbits int
	// Registers are the classical registers in declaration order.
	Registers []Register
	// Parameters are the names of the circuit's free input parameters in
	// the order Qiskit uses for parameter value arrays: by name, elements of
	// a parameter vector ("theta[10]") by their index.
	Parameters []string
	// Ops are the operations in program order.
	Ops []Op
	// Physical reports whether the circuit addresses physical qubits ($n).
	Physical bool
	// Facts are the circuit's facts, counted as it was read.
	Facts Facts

	gates map[string]*gateDef
	kept  int // bytes of names and register bits kept
}

// maxKept bounds what a circuit keeps of its source beside its
// operations: the names of its parameters and classical registers and
// the bits of its registers.
const maxKept = 1 << 20

// keep counts n bytes the circuit keeps.
func (c *Circuit) keep(n int) error {
	if c.kept += n; c.kept > maxKept {
		return fmt.Errorf("the circuit's parameter and register names and bits take more than %d bytes", maxKept)
	}
	return nil
}

// vectorElement matches a parameter vector element's name, "theta[3]".
var vectorElement = regexp.MustCompile(`^(.*)\[(\d+)\]$`)

// sortParameters orders parameter names as Qiskit does: by name, with the
// elements of one parameter vector by index.
func sortParameters(names []string) {
	key := func(name string) (string, int) {
		if m := vectorElement.FindStringSubmatch(name); m != nil {
			i, _ := strconv.Atoi(m[2])
			return m[1], i
		}
		return name, -1
	}
	slices.SortFunc(names, func(a, b string) int {
		an, ai := key(a)
		bn, bi := key(b)
		return cmp.Or(cmp.Compare(an, bn), cmp.Compare(ai, bi))
	})
}

// detach makes a circuit read for its facts hold none of its source: the
// names it keeps are copied and its gate definitions dropped, so that the
// source (which a reader may hand over without copying) is not kept alive.
func (c *Circuit) detach() {
	for i, p := range c.Parameters {
		c.Parameters[i] = strings.Clone(p)
	}
	for i := range c.Registers {
		c.Registers[i].Name = strings.Clone(c.Registers[i].Name)
	}
	c.gates = nil
}
