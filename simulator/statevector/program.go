package statevector

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/qgov/qgov/circuit"
)

// ErrTooManyQubits is returned when a circuit's active qubits exceed the
// configured maximum.
var ErrTooManyQubits = errors.New("too many active qubits")

// Program is a lowered circuit mapped onto a compact register that holds
// only its active qubits: a 127-qubit circuit touching 5 qubits simulates 5.
type Program struct {
	instrs []circuit.Instr
	qubits []int       // local index → circuit qubit
	local  map[int]int // circuit qubit → local index
}

// NewProgram maps instrs onto their active qubits; more than maxQubits
// active qubits is ErrTooManyQubits.
func NewProgram(instrs []circuit.Instr, maxQubits int) (*Program, error) {
	p := &Program{local: map[int]int{}}
	use := func(q int) {
		if _, ok := p.local[q]; !ok {
			p.local[q] = 0
			p.qubits = append(p.qubits, q)
		}
	}
	for _, in := range instrs {
		use(in.Target)
		if in.Kind == circuit.InstrSwap {
			use(in.Target2)
		}
		for _, c := range in.Controls {
			use(c)
		}
	}
	if len(p.qubits) > maxQubits {
		return nil, fmt.Errorf("%w: the circuit acts on %d qubits, the limit is %d", ErrTooManyQubits, len(p.qubits), maxQubits)
	}
	sort.Ints(p.qubits)
	for i, q := range p.qubits {
		p.local[q] = i
	}
	p.instrs = make([]circuit.Instr, len(instrs))
	for i, in := range instrs {
		out := in
		out.Target = p.local[in.Target]
		if in.Kind == circuit.InstrSwap {
			out.Target2 = p.local[in.Target2]
		}
		if len(in.Controls) > 0 {
			out.Controls = make([]int, len(in.Controls))
			for j, c := range in.Controls {
				out.Controls[j] = p.local[c]
			}
		}
		p.instrs[i] = out
	}
	return p, nil
}

// NumQubits returns the number of simulated (active) qubits.
func (p *Program) NumQubits() int { return len(p.qubits) }

// Local returns the simulated index of circuit qubit q, if it is active.
func (p *Program) Local(q int) (int, bool) {
	i, ok := p.local[q]
	return i, ok
}

func apply(s *State, in circuit.Instr) {
	if in.Kind == circuit.InstrSwap {
		s.Swap(in.Target, in.Target2, in.Controls)
	} else {
		s.Apply(in.Target, in.Matrix, in.Controls)
	}
}

// Final returns the state after all instructions; the program must be
// purely unitary (no measurement or reset).
func (p *Program) Final(ctx context.Context) (*State, error) {
	s := New(len(p.qubits))
	for _, in := range p.instrs {
		if in.Kind == circuit.InstrMeasure || in.Kind == circuit.InstrReset {
			return nil, errors.New("the circuit contains measurements or resets")
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		apply(s, in)
	}
	return s, nil
}

// Shots holds the classical bits of every shot, Words uint64 words a shot.
type Shots struct {
	Words int
	Bits  []uint64
}

// Bit returns classical bit c of shot i.
func (r Shots) Bit(i, c int) bool { return r.Bits[i*r.Words+c/64]>>(c%64)&1 == 1 }

func (r Shots) set(i, c int, v bool) {
	w := &r.Bits[i*r.Words+c/64]
	if v {
		*w |= 1 << (c % 64)
	} else {
		*w &^= 1 << (c % 64)
	}
}

// analysis is what Sample needs to know about the measurements.
type analysis struct {
	instrs     []circuit.Instr // resets on untouched qubits removed
	terminal   []bool          // per instruction: a measurement nothing later disturbs
	lastWriter map[int]int     // clbit → index of the last measurement writing it
	dynamic    int             // index of the first non-terminal measurement or reset
}

func (p *Program) analyse() analysis {
	a := analysis{lastWriter: map[int]int{}}
	touched := map[int]bool{}
	for _, in := range p.instrs {
		if in.Kind == circuit.InstrReset && !touched[in.Target] {
			continue // resetting a fresh qubit does nothing
		}
		touched[in.Target] = true
		if in.Kind == circuit.InstrSwap {
			touched[in.Target2] = true
		}
		for _, c := range in.Controls {
			touched[c] = true
		}
		a.instrs = append(a.instrs, in)
	}
	lastUse := map[int]int{}
	for i, in := range a.instrs {
		if in.Kind == circuit.InstrMeasure {
			if in.Clbit >= 0 {
				a.lastWriter[in.Clbit] = i
			}
			continue
		}
		lastUse[in.Target] = i
		if in.Kind == circuit.InstrSwap {
			lastUse[in.Target2] = i
		}
		for _, c := range in.Controls {
			lastUse[c] = i
		}
	}
	a.terminal = make([]bool, len(a.instrs))
	a.dynamic = len(a.instrs)
	if slices.ContainsFunc(a.instrs, func(in circuit.Instr) bool { return len(in.Conds) > 0 }) {
		// classical feed-forward: every shot runs the whole circuit, each
		// measurement collapsing the state as it happens
		a.dynamic = 0
		return a
	}
	for i, in := range a.instrs {
		switch in.Kind {
		case circuit.InstrMeasure:
			last, used := lastUse[in.Target]
			a.terminal[i] = !used || last < i
			if !a.terminal[i] && i < a.dynamic {
				a.dynamic = i
			}
		case circuit.InstrReset:
			a.dynamic = min(a.dynamic, i)
		}
	}
	return a
}

// holds reports whether every condition holds for the bits measured.
func holds(conds []circuit.Condition, bit func(int) bool) bool {
	for _, c := range conds {
		if !c.Holds(bit) {
			return false
		}
	}
	return true
}

// Sample runs the program shots times and returns the classical bits. Only
// when a measurement is followed by operations on its qubit, or a qubit is
// reset after use, does it simulate shot by shot (from the state just
// before the first such instruction); otherwise it samples every shot from
// the single final state.
func (p *Program) Sample(ctx context.Context, numClbits, shots int, rng *rand.Rand) (Shots, error) {
	a := p.analyse()
	res := Shots{Words: (numClbits + 63) / 64}
	res.Bits = make([]uint64, shots*res.Words)
	prefix := New(len(p.qubits))
	for _, in := range a.instrs[:a.dynamic] {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if in.Kind != circuit.InstrMeasure {
			apply(prefix, in)
		}
	}
	// readFinal writes the bits of terminal last-writer measurements from a
	// basis index of the final state.
	readFinal := func(shot, index int) {
		for c, i := range a.lastWriter {
			if a.terminal[i] {
				res.set(shot, c, index>>a.instrs[i].Target&1 == 1)
			}
		}
	}
	if a.dynamic == len(a.instrs) {
		for shot, index := range prefix.Sample(shots, rng) {
			readFinal(shot, index)
		}
		return res, nil
	}
	work := New(len(p.qubits))
	measured := make([]bool, numClbits)
	bit := func(c int) bool { return c >= 0 && c < len(measured) && measured[c] }
	for shot := 0; shot < shots; shot++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		work.CopyFrom(prefix)
		clear(measured)
		for i, in := range a.instrs[a.dynamic:] {
			i += a.dynamic
			if !holds(in.Conds, bit) {
				continue
			}
			switch {
			case in.Kind == circuit.InstrMeasure && a.terminal[i]:
				// Read from the final state below.
			case in.Kind == circuit.InstrMeasure || in.Kind == circuit.InstrReset:
				p1 := work.Prob1(in.Target)
				outcome, prob := 0, 1-p1
				if rng.Float64() < p1 {
					outcome, prob = 1, p1
				}
				work.Collapse(in.Target, outcome, prob)
				if in.Kind == circuit.InstrReset && outcome == 1 {
					work.Apply(in.Target, circuit.Matrix{0, 1, 1, 0}, nil)
				}
				if in.Kind == circuit.InstrMeasure && in.Clbit >= 0 {
					if in.Clbit < len(measured) {
						measured[in.Clbit] = outcome == 1
					}
					res.set(shot, in.Clbit, outcome == 1) // a later write of the bit overwrites it
				}
			default:
				apply(work, in)
			}
		}
		readFinal(shot, work.Sample(1, rng)[0])
	}
	return res, nil
}
