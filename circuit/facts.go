package circuit

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Facts summarises a circuit for admission decisions and simulation: the
// gateway's limits on qubits and depth read them, and the simulator sizes its
// state vector by the active qubits.
type Facts struct {
	// NumQubits is the width of the circuit's qubit index space.
	NumQubits int `json:"num_qubits"`
	// ActiveQubits are the qubits touched by a gate, measurement or reset,
	// in increasing order. Barriers and delays do not make a qubit active.
	ActiveQubits []int `json:"active_qubits"`
	// NumClbits is the number of classical bits.
	NumClbits int `json:"num_clbits"`
	// Depth is the length of the critical path over qubit and
	// classical-bit wires, barriers excluded, with every call of a gate
	// the program defines expanded into its body: the depth as the
	// circuit executes. It is -1 when the definitions expand to more
	// operations than the reader's expansion bound, so the depth is not
	// known.
	Depth int `json:"depth"`
	// TwoQubitGates counts gates acting on exactly two qubits, and
	// MultiQubitGates those acting on three or more, after expansion.
	TwoQubitGates   int `json:"two_qubit_gates"`
	MultiQubitGates int `json:"multi_qubit_gates"`
	// Measurements counts measurement operations.
	Measurements int `json:"measurements"`
	// Ops counts operations by name as written, as Qiskit's count_ops().
	Ops map[string]int `json:"ops"`
	// NumParameters is the number of free input parameters.
	NumParameters int `json:"num_parameters"`
}

// DepthKnown reports whether the depth could be counted.
func (f Facts) DepthKnown() bool { return f.Depth >= 0 }

// ErrLimit marks an error of a circuit that exceeds a reading budget.
var ErrLimit = errors.New("circuit reading budget exceeded")

// Limits bound the work of reading the circuits of one job.
type Limits struct {
	// Instructions bounds the operations written in the circuits: gate
	// calls, measurements, resets, barriers and delays, and the calls in
	// gate definitions. Reading stops when they are exceeded.
	Instructions int
	// Expansion bounds the operations that calls of defined gates expand
	// to when depth is counted; past it the depth is unknown.
	Expansion int
	// Bytes bounds the bytes read from compressed circuits once inflated.
	Bytes int64
}

// DefaultLimits are the bounds of a circuit read on its own (Parse,
// ParseQPY).
var DefaultLimits = Limits{Instructions: 1 << 20, Expansion: 1 << 20, Bytes: 64 << 20}

// Budget is what is left of a job's Limits while its circuits are read;
// every circuit of the job draws on the same budget.
type Budget struct {
	limits       Limits
	instructions int
	expansion    int
	bytes        int64
}

// NewBudget returns a budget of l.
func NewBudget(l Limits) *Budget {
	return &Budget{limits: l, instructions: l.Instructions, expansion: l.Expansion, bytes: l.Bytes}
}

// Limits returns the limits the budget was made with.
func (b *Budget) Limits() Limits { return b.limits }

// instruction spends one written instruction.
func (b *Budget) instruction() error {
	if b.instructions <= 0 {
		return fmt.Errorf("%w: the circuits hold more than %d instructions", ErrLimit, b.limits.Instructions)
	}
	b.instructions--
	return nil
}

// Reader returns r drawing on the budget's inflated bytes: reading past
// them fails with an ErrLimit error.
func (b *Budget) Reader(r io.Reader) io.Reader { return &budgetReader{r: r, b: b} }

type budgetReader struct {
	r io.Reader
	b *Budget
}

func (br *budgetReader) Read(p []byte) (int, error) {
	if br.b.bytes <= 0 {
		// one byte more tells a stream that ends exactly at the bound from one that goes on
		var one [1]byte
		if n, _ := br.r.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%w: the circuits inflate to more than %d bytes", ErrLimit, br.b.limits.Bytes)
		}
		return br.r.Read(p)
	}
	if int64(len(p)) > br.b.bytes {
		p = p[:br.b.bytes]
	}
	n, err := br.r.Read(p)
	br.b.bytes -= int64(n)
	return n, err
}

// tally computes a circuit's facts as its operations are read, expanding
// calls of the gates the program defines.
type tally struct {
	f      Facts
	qlevel []int
	clevel []int
	active []bool
	gates  map[string]*gateDef
	budget *Budget
}

func newTally(gates map[string]*gateDef, b *Budget) *tally {
	return &tally{f: Facts{Ops: map[string]int{}}, gates: gates, budget: b}
}

// grow returns s long enough to hold index i.
func grow[T any](s []T, i int) []T {
	if i < len(s) {
		return s
	}
	return append(s, make([]T, i+1-len(s))...)
}

// op counts an operation as written.
func (t *tally) op(op Op) {
	if _, seen := t.f.Ops[op.Name]; !seen {
		op.Name = strings.Clone(op.Name) // the facts outlive the source
	}
	t.f.Ops[op.Name]++
	if op.Kind == OpGate {
		if def := t.gates[op.Name]; def != nil && !def.standard {
			t.expand(def, op.Qubits)
			return
		}
	}
	t.place(op.Kind, op.Qubits, op.Clbit)
}

// count counts an operation as written, without placing it: a custom
// operation or control flow whose body is placed instead.
func (t *tally) count(name string) {
	if _, seen := t.f.Ops[name]; !seen {
		name = strings.Clone(name)
	}
	t.f.Ops[name]++
}

// unknownDepth gives up the depth (an expansion past its bound) and
// notes the qubits touched.
func (t *tally) unknownDepth(qubits []int) {
	t.f.Depth = -1
	for _, q := range qubits {
		t.touch(q)
	}
}

// sync starts an operation on all its wires at once: each is brought to
// the deepest of them (a control-flow block begins once the bits its
// condition reads are measured).
func (t *tally) sync(qubits, clbits []int) {
	if t.f.Depth < 0 {
		return
	}
	level := 0
	for _, q := range qubits {
		t.qlevel = grow(t.qlevel, q)
		level = max(level, t.qlevel[q])
	}
	for _, c := range clbits {
		t.clevel = grow(t.clevel, c)
		level = max(level, t.clevel[c])
	}
	for _, q := range qubits {
		t.qlevel[q] = level
	}
	for _, c := range clbits {
		t.clevel[c] = level
	}
}

// levels are the depths reached so far on the given wires.
func (t *tally) levels(qubits, clbits []int) wireLevels {
	l := wireLevels{make([]int, len(qubits)), make([]int, len(clbits))}
	for i, q := range qubits {
		t.qlevel = grow(t.qlevel, q)
		l.q[i] = t.qlevel[q]
	}
	for i, c := range clbits {
		t.clevel = grow(t.clevel, c)
		l.c[i] = t.clevel[c]
	}
	return l
}

// restore sets the depths reached on the given wires.
func (t *tally) restore(qubits, clbits []int, l wireLevels) {
	for i, q := range qubits {
		t.qlevel[q] = l.q[i]
	}
	for i, c := range clbits {
		t.clevel[c] = l.c[i]
	}
}

// expand places the body of a defined gate on qubits. Every call it
// expands (of a defined gate or not) spends one operation of the
// expansion bound; once it is spent the depth is unknown and only the
// qubits are noted.
func (t *tally) expand(def *gateDef, qubits []int) {
	for _, call := range def.body {
		if t.f.Depth < 0 || t.budget.expansion <= 0 {
			t.f.Depth = -1
			for _, q := range qubits {
				t.touch(q)
			}
			return
		}
		t.budget.expansion--
		qs := make([]int, len(call.qubits))
		for i, k := range call.qubits {
			qs[i] = qubits[k]
		}
		if inner := t.gates[call.name]; inner != nil && !inner.standard {
			t.expand(inner, qs)
			continue
		}
		t.place(OpGate, qs, -1)
	}
}

func (t *tally) touch(q int) {
	t.active = grow(t.active, q)
	t.active[q] = true
}

// place puts one primitive operation on its wires.
func (t *tally) place(kind OpKind, qubits []int, clbit int) {
	if kind == OpBarrier {
		return
	}
	if t.f.Depth >= 0 {
		level := 0
		for _, q := range qubits {
			t.qlevel = grow(t.qlevel, q)
			level = max(level, t.qlevel[q])
		}
		if clbit >= 0 {
			t.clevel = grow(t.clevel, clbit)
			level = max(level, t.clevel[clbit])
		}
		level++
		for _, q := range qubits {
			t.qlevel[q] = level
		}
		if clbit >= 0 {
			t.clevel[clbit] = level
		}
		t.f.Depth = max(t.f.Depth, level)
	}
	switch kind {
	case OpDelay:
		return
	case OpMeasure:
		t.f.Measurements++
	case OpGate:
		switch {
		case len(qubits) == 2:
			t.f.TwoQubitGates++
		case len(qubits) > 2:
			t.f.MultiQubitGates++
		}
	}
	for _, q := range qubits {
		t.touch(q)
	}
}

// facts completes the facts of circuit c.
func (t *tally) facts(c *Circuit) Facts {
	f := t.f
	f.NumQubits, f.NumClbits, f.NumParameters = c.NumQubits, c.NumClbits, len(c.Parameters)
	f.ActiveQubits = []int{}
	for q, on := range t.active {
		if on {
			f.ActiveQubits = append(f.ActiveQubits, q)
		}
	}
	sort.Ints(f.ActiveQubits)
	return f
}
