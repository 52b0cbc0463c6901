package circuit

import (
	"fmt"
	"math"
)

// InstrKind is the kind of a primitive instruction.
type InstrKind int

// Primitive instruction kinds.
const (
	// InstrUnitary applies Matrix to Target when all Controls are |1⟩.
	InstrUnitary InstrKind = iota
	// InstrSwap swaps Target and Target2 when all Controls are |1⟩.
	InstrSwap
	// InstrMeasure measures Target into Clbit (-1: discarded).
	InstrMeasure
	// InstrReset resets Target to |0⟩.
	InstrReset
)

// Instr is a primitive instruction with numeric parameters, ready to simulate.
type Instr struct {
	Kind     InstrKind
	Matrix   Matrix
	Target   int
	Target2  int
	Controls []int
	Clbit    int
	// Conds are the classical conditions under which it runs.
	Conds []Condition
}

// MaxInstructions bounds the number of primitive instructions one circuit
// may lower to, so nested gate definitions cannot explode.
const MaxInstructions = 1 << 20

// Lower binds the circuit's parameters to values and expands every gate into
// primitive instructions. Barriers and delays produce no instruction.
func (c *Circuit) Lower(values map[string]float64) ([]Instr, error) {
	l := lowerer{c: c}
	for _, op := range c.Ops {
		start := len(l.out)
		switch op.Kind {
		case OpGate:
			args, err := evalAll(op.Params, values)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", op.Line, err)
			}
			if err := l.gate(op.Name, args, op.Qubits); err != nil {
				return nil, fmt.Errorf("line %d: %w", op.Line, err)
			}
		case OpMeasure:
			l.emit(Instr{Kind: InstrMeasure, Target: op.Qubits[0], Clbit: op.Clbit})
		case OpReset:
			l.emit(Instr{Kind: InstrReset, Target: op.Qubits[0], Clbit: -1})
		}
		for i := start; op.Conds != nil && i < len(l.out); i++ {
			l.out[i].Conds = op.Conds
		}
		if len(l.out) > MaxInstructions {
			return nil, fmt.Errorf("line %d: circuit expands to more than %d instructions", op.Line, MaxInstructions)
		}
	}
	return l.out, nil
}

func evalAll(exprs []Expr, vars map[string]float64) ([]float64, error) {
	vals := make([]float64, len(exprs))
	for i, e := range exprs {
		v, err := e.Eval(vars)
		if err != nil {
			return nil, err
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("expression %s is not a finite number", e)
		}
		vals[i] = v
	}
	return vals, nil
}

type lowerer struct {
	c   *Circuit
	out []Instr
}

func (l *lowerer) emit(in Instr) { l.out = append(l.out, in) }

func (l *lowerer) gate(name string, args []float64, qubits []int) error {
	def, ok := l.c.gates[name]
	if !ok {
		if g, std := stdGates[name]; std {
			return l.std(g, args, qubits)
		}
		def = library[name]
	}
	vars := make(map[string]float64, len(def.params))
	for i, p := range def.params {
		vars[p] = args[i]
	}
	for _, call := range def.body {
		if len(l.out) > MaxInstructions {
			return fmt.Errorf("circuit expands to more than %d instructions", MaxInstructions)
		}
		callArgs, err := evalAll(call.args, vars)
		if err != nil {
			return fmt.Errorf("in gate %q: %w", name, err)
		}
		qs := make([]int, len(call.qubits))
		for i, k := range call.qubits {
			qs[i] = qubits[k]
		}
		if err := l.gate(call.name, callArgs, qs); err != nil {
			return err
		}
	}
	return nil
}

func (l *lowerer) std(g stdGate, args []float64, qubits []int) error {
	in := Instr{Clbit: -1}
	if g.controls > 0 {
		in.Controls = append([]int(nil), qubits[:g.controls]...)
	}
	rest := qubits[g.controls:]
	if g.swap {
		in.Kind, in.Target, in.Target2 = InstrSwap, rest[0], rest[1]
	} else {
		in.Kind, in.Target, in.Matrix = InstrUnitary, rest[0], g.matrix(args)
		if in.Matrix == (Matrix{1, 0, 0, 1}) {
			return nil
		}
	}
	l.emit(in)
	return nil
}
