package circuit

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// qpyInst is an instruction as written, before it is placed: on the
// wires of its circuit, or, inside a custom definition or a control-flow
// block, on that body's own wires.
type qpyInst struct {
	name               string
	qubits, clbits     []int
	params             []Expr
	numCtrl, ctrlState uint32
	// conditioned marks a classical condition, and cond is it when it
	// tests bits (not a classical expression).
	conditioned bool
	cond        *Condition
	// blocks are the bodies of a control-flow operation, and iterations
	// a for loop's number of iterations (-1 when not known).
	blocks     []*qpyBody
	iterations int
}

// qpyBody is a nested circuit: a custom operation's definition or a
// control-flow block.
type qpyBody struct {
	numQubits, numClbits int
	// params are the definition's parameters in Qiskit's order, which a
	// call's arguments bind by position.
	params []string
	insts  []*qpyInst
}

// classical are the operations whose parameters are not angles: control
// flow (its blocks, loop ranges, case values) and stores.
var classical = map[string]bool{"IfElseOp": true, "WhileLoopOp": true, "ForLoopOp": true, "SwitchCaseOp": true,
	"BoxOp": true, "BreakLoopOp": true, "ContinueLoopOp": true, "Store": true}

// controlFlowNames are the names Qiskit's count_ops gives control flow.
var controlFlowNames = map[string]string{"IfElseOp": "if_else", "WhileLoopOp": "while_loop", "ForLoopOp": "for_loop",
	"SwitchCaseOp": "switch_case", "BoxOp": "box", "BreakLoopOp": "break_loop", "ContinueLoopOp": "continue_loop", "Store": "store"}

// maxNesting bounds how deep definitions and blocks nest.
const maxNesting = 32

// customOperation reads one entry of a circuit's custom operation table:
// a gate or instruction with its definition (a nested circuit) is kept
// for expansion; one without is known only by name.
func (q *qpyCircuit) customOperation(r *qpyReader) error {
	nameSize := r.u16("custom name size")
	typ := r.u8("custom type")
	r.u32("custom qubit count")
	r.u32("custom clbit count")
	hasDef := r.u8("custom definition flag")
	size := r.u64("custom definition size")
	r.skip(4+4, "custom control data")
	baseSize := r.u64("base gate size")
	name := r.str(uint64(nameSize), "custom name")
	def := r.take(size, "custom definition")
	r.skip(baseSize, "base gate")
	if r.err != nil {
		return r.err
	}
	q.custom[name] = true
	if hasDef == 0 || size == 0 || (typ != 'g' && typ != 'i' && typ != 'c') {
		return nil
	}
	body, err := q.nested(def)
	if err != nil {
		return fmt.Errorf("the definition of %s: %w", name, err)
	}
	q.defs[name] = body
	return nil
}

// nested reads a circuit written inside another: a definition or a block.
func (q *qpyCircuit) nested(data []byte) (*qpyBody, error) {
	if q.nesting >= maxNesting {
		return nil, fmt.Errorf("definitions and blocks nest deeper than %d", maxNesting)
	}
	body := &qpyBody{}
	child := &qpyCircuit{c: &Circuit{gates: map[string]*gateDef{}}, version: q.version, params: map[string]bool{},
		custom: q.custom, defs: q.defs, keep: q.keep, budget: q.budget, tally: q.tally, body: body, nesting: q.nesting + 1}
	r := newQPYReader(bytes.NewReader(data), int64(len(data)), func(what string, n uint64) error {
		return fmt.Errorf("%s of %d bytes runs past its circuit", what, n)
	})
	if err := child.header(r); err != nil {
		return nil, err
	}
	body.numQubits, body.numClbits = child.c.NumQubits, child.c.NumClbits
	for name := range child.params {
		body.params = append(body.params, name)
	}
	sortParameters(body.params)
	return body, nil
}

// blockParam reads a parameter of a control-flow operation: a block, a
// loop's index set or range (the first parameter), or a tuple holding
// blocks (a switch's cases). Values, loop variables and case labels do
// not change what the operation costs.
func (q *qpyCircuit) blockParam(in *qpyInst, typ byte, data []byte, first bool) error {
	switch typ {
	case 'q':
		body, err := q.nested(data)
		if err != nil {
			return err
		}
		in.blocks = append(in.blocks, body)
	case 'r':
		if len(data) != 24 {
			return fmt.Errorf("a range of %d bytes, not 24", len(data))
		}
		start, stop, step := int64(binary.BigEndian.Uint64(data)), int64(binary.BigEndian.Uint64(data[8:])), int64(binary.BigEndian.Uint64(data[16:]))
		if first && in.name == "ForLoopOp" {
			in.iterations = rangeLen(start, stop, step)
		}
	case 't':
		r := newQPYReader(bytes.NewReader(data), int64(len(data)), func(what string, n uint64) error {
			return fmt.Errorf("%s of %d bytes runs past its tuple", what, n)
		})
		n := r.count(r.u64("tuple length"), 9, "tuple item")
		if first && in.name == "ForLoopOp" {
			in.iterations = n
		}
		for i := n; i > 0 && r.err == nil; i-- {
			typ := r.u8("tuple item type")
			item := r.take(r.u64("tuple item size"), "tuple item")
			if r.err == nil && (typ == 'q' || typ == 't') {
				if err := q.blockParam(in, typ, item, false); err != nil {
					return err
				}
			}
		}
		return r.err
	}
	return nil
}

// rangeLen is the length of Python's range(start, stop, step), capped
// at math.MaxInt32 (far past any expansion bound).
func rangeLen(start, stop, step int64) int {
	var n uint64
	switch {
	case step > 0 && stop > start:
		n = (uint64(stop)-uint64(start)-1)/uint64(step) + 1
	case step < 0 && stop < start:
		n = (uint64(start)-uint64(stop)-1)/(uint64(-(step+1))+1) + 1
	}
	return int(min(n, math.MaxInt32))
}

// place puts an instruction on the circuit's wires (qmap and cmap map a
// body's bits to them; nil at the top), expanding custom operations into
// their definitions and, for the facts, control flow into its blocks.
func (q *qpyCircuit) place(in *qpyInst) error {
	if q.body != nil { // a nested circuit: kept to be placed where it is used
		q.body.insts = append(q.body.insts, in)
		return nil
	}
	return q.placeOn(in, nil, nil)
}

func (q *qpyCircuit) placeOn(in *qpyInst, qmap, cmap []int) error {
	qubits, clbits := onto(in.qubits, qmap), onto(in.clbits, cmap)
	var cond Condition
	if in.cond != nil {
		cond = Condition{Bits: onto(in.cond.Bits, cmap), Value: in.cond.Value}
	}
	if in.conditioned && q.keep {
		if in.cond == nil {
			return fmt.Errorf("%s is classically conditioned on an expression or on bits outside the circuit, which the simulator does not evaluate", in.name)
		}
		if !classical[in.name] {
			q.conds = append(q.conds, cond)
			defer func() { q.conds = q.conds[:len(q.conds)-1] }()
		}
	}
	switch {
	case classical[in.name]:
		return q.controlFlow(in, qubits, clbits, cond)
	case qpyGates[in.name] == "" && q.defs[in.name] != nil:
		return q.expand(in, q.defs[in.name], qubits, clbits)
	}
	return q.addOp(in.name, qubits, clbits, in.params, in.numCtrl, in.ctrlState)
}

// onto maps a body's bit indices to its user's.
func onto(bits, to []int) []int {
	if to == nil {
		return bits
	}
	out := make([]int, len(bits))
	for i, b := range bits {
		out[i] = to[b]
	}
	return out
}

// expand places a custom operation's definition on the call's wires, its
// parameters bound to the call's arguments. Each operation it places
// spends one of the expansion bound; past it the depth is unknown (the
// facts) or the circuit is refused (the simulator).
func (q *qpyCircuit) expand(in *qpyInst, def *qpyBody, qubits, clbits []int) error {
	if len(qubits) != def.numQubits || len(clbits) != def.numClbits {
		return fmt.Errorf("%s acts on %d qubits and %d clbits; its definition on %d and %d", in.name, len(qubits), len(clbits), def.numQubits, def.numClbits)
	}
	if q.keep && len(in.params) != len(def.params) {
		return fmt.Errorf("%s takes %d parameters, got %d", in.name, len(def.params), len(in.params))
	}
	if q.expanding[in.name] || len(q.expanding) >= maxNesting {
		return fmt.Errorf("the definition of %s calls itself, or nests deeper than %d", in.name, maxNesting)
	}
	if q.expanding == nil {
		q.expanding = map[string]bool{}
	}
	q.expanding[in.name] = true
	defer delete(q.expanding, in.name)
	if q.inside == 0 {
		q.tally.count(in.name)
	}
	bind := map[string]Expr{}
	for i, name := range def.params {
		if i < len(in.params) {
			bind[name] = in.params[i]
		}
	}
	q.inside++
	defer func() { q.inside-- }()
	for _, inner := range def.insts {
		if !q.spend(inner, qubits) {
			if q.keep {
				return fmt.Errorf("%s expands to more than %d operations", in.name, q.budget.limits.Expansion)
			}
			return nil
		}
		bound := *inner
		bound.params = make([]Expr, len(inner.params))
		for i, p := range inner.params {
			if !q.keep { // the facts need no angle
				bound.params[i] = numExpr(0)
				continue
			}
			b, err := bindExpr(p, bind)
			if err != nil {
				return fmt.Errorf("%s: %w", in.name, err)
			}
			bound.params[i] = b
		}
		if err := q.placeOn(&bound, qubits, clbits); err != nil {
			return err
		}
	}
	return nil
}

// spend charges the expansion bound for placing one operation: one, and
// one more for every 8 wires it spans, so that wide operations repeated
// by loops and definitions stay bounded too. Once it is spent, the depth
// is unknown.
func (q *qpyCircuit) spend(in *qpyInst, qubits []int) bool {
	cost := 1 + (len(in.qubits)+len(in.clbits))/8
	if q.budget.expansion < cost {
		q.budget.expansion = 0
		if !q.keep {
			q.tally.unknownDepth(qubits)
		}
		return false
	}
	q.budget.expansion -= cost
	return true
}

// controlFlow places a control-flow operation. For the facts an if_else
// or switch_case counts as its longest branch, a for_loop as its body
// times its iterations, a while_loop and a box as one pass of their body,
// each starting once the bits its condition reads are measured. The
// simulator runs an if_else on measured bits: each block's operations
// under the condition, or its negation.
func (q *qpyCircuit) controlFlow(in *qpyInst, qubits, clbits []int, cond Condition) error {
	if q.keep && (in.name != "IfElseOp" || cond.Bits == nil) {
		return fmt.Errorf("%s: of dynamic circuits the simulator runs if_else on measured bits, not this", in.name)
	}
	if q.inside == 0 {
		q.tally.count(controlFlowNames[in.name])
	}
	q.inside++
	defer func() { q.inside-- }()
	passes := 1
	if in.name == "ForLoopOp" && in.iterations >= 0 {
		passes = in.iterations
	}
	branches := in.blocks
	if in.name != "IfElseOp" && in.name != "SwitchCaseOp" {
		branches = in.blocks[:min(len(in.blocks), 1)]
	}
	reads := append(slices.Clone(clbits), cond.Bits...)
	if !q.spend(in, qubits) {
		if q.keep {
			return fmt.Errorf("the blocks expand to more than %d operations", q.budget.limits.Expansion)
		}
		return nil
	}
	q.tally.sync(qubits, reads)
	// a block acts on the operation's wires only: only theirs are kept
	start := q.tally.levels(qubits, reads)
	var ends []wireLevels
	for i, b := range branches {
		if b.numQubits > len(qubits) || b.numClbits > len(clbits) {
			return fmt.Errorf("a block of %s uses %d qubits and %d clbits; the operation has %d and %d", in.name, b.numQubits, b.numClbits, len(qubits), len(clbits))
		}
		q.tally.restore(qubits, reads, start)
		if q.keep {
			c := cond
			c.Else = i == 1
			q.conds = append(q.conds, c)
		}
		if err := q.passes(b, passes, qubits, clbits); err != nil {
			return err
		}
		if q.keep {
			q.conds = q.conds[:len(q.conds)-1]
		}
		ends = append(ends, q.tally.levels(qubits, reads))
	}
	q.tally.restore(qubits, reads, latest(start, ends))
	return nil
}

// passes places a block n times, each operation spending one of the
// expansion bound; past it the depth is unknown (the facts) or the
// circuit refused (the simulator).
func (q *qpyCircuit) passes(b *qpyBody, n int, qubits, clbits []int) error {
	if len(b.insts) == 0 {
		return nil // an empty body costs nothing, however often it runs
	}
	for range n {
		for _, inner := range b.insts {
			if !q.spend(inner, qubits) {
				if q.keep {
					return fmt.Errorf("the blocks expand to more than %d operations", q.budget.limits.Expansion)
				}
				return nil
			}
			if err := q.placeOn(inner, qubits, clbits); err != nil {
				return err
			}
		}
	}
	return nil
}

// condition reads a two-tuple condition: a clbit ("\x00" and its index)
// or a classical register (its name) of the circuit being read, and the
// value it is tested against; nil when it names neither.
func (q *qpyCircuit) condition(reg []byte, value uint64) *Condition {
	if len(reg) > 1 && reg[0] == 0 {
		idx, err := strconv.Atoi(string(reg[1:]))
		if err != nil || idx < 0 || idx >= q.c.NumClbits {
			return nil
		}
		return &Condition{Bits: []int{idx}, Value: value}
	}
	for _, r := range q.c.Registers {
		if r.Name == string(reg) {
			return &Condition{Bits: r.Bits, Value: value}
		}
	}
	return nil
}

// boundExpr is a definition's parameter expression with the definition's
// parameters bound to a call's arguments.
type boundExpr struct {
	e    Expr
	args map[string]Expr
	cost int
}

func (b boundExpr) Eval(vars map[string]float64) (float64, error) {
	inner := make(map[string]float64, len(b.args))
	for name, a := range b.args {
		v, err := a.Eval(vars)
		if err != nil {
			return 0, err
		}
		inner[name] = v
	}
	return b.e.Eval(inner)
}

func (b boundExpr) String() string { return b.e.String() }

// wireLevels are the depths reached on an operation's qubit and clbit
// wires, in the order of its wires.
type wireLevels struct{ q, c []int }

// latest is, wire by wire, the deepest of the branches' levels.
func latest(start wireLevels, ends []wireLevels) wireLevels {
	out := wireLevels{slices.Clone(start.q), slices.Clone(start.c)}
	for _, e := range ends {
		for i, l := range e.q {
			out.q[i] = max(out.q[i], l)
		}
		for i, l := range e.c {
			out.c[i] = max(out.c[i], l)
		}
	}
	return out
}

// bindExpr binds a definition's parameter expression to a call's
// arguments for the simulator, refusing a binding whose evaluation would
// cost more than maxExprOps operations (definitions passing parameters
// through many levels).
func bindExpr(e Expr, args map[string]Expr) (Expr, error) {
	if len(args) == 0 {
		return e, nil
	}
	b := boundExpr{e: e, args: args, cost: exprCost(e)}
	for _, a := range args {
		b.cost += exprCost(a)
	}
	if b.cost > maxExprOps {
		return nil, fmt.Errorf("a parameter bound through nested definitions costs more than %d operations to evaluate", maxExprOps)
	}
	return b, nil
}

// exprCost is the number of operations evaluating e takes.
func exprCost(e Expr) int {
	switch x := e.(type) {
	case boundExpr:
		return x.cost
	case negExpr:
		return 1 + exprCost(x.x)
	case binExpr:
		return 1 + exprCost(x.x) + exprCost(x.y)
	case callExpr:
		return 1 + exprCost(x.arg)
	}
	return 1
}

// skipTail reads past what follows a circuit's instructions, so that the
// next circuit of the stream can be read: its calibrations (none are
// accepted: pulse calibrations left Qiskit in 2.0) and its layout.
func (q *qpyCircuit) skipTail(r *qpyReader) {
	if q.version < 18 {
		if n := r.u16("calibration count"); n > 0 && r.err == nil {
			r.err = fmt.Errorf("the circuit carries %d pulse calibrations, which are not read", n)
			return
		}
	}
	exists := r.u8("layout flag")
	initial, input, final := int32(r.u32("initial layout size")), int32(r.u32("input mapping size")), int32(r.u32("final layout size"))
	extra := r.u32("extra register count")
	r.u32("input qubit count")
	if exists == 0 || r.err != nil {
		return
	}
	for i := r.count(uint64(extra), 9, "layout register"); i > 0 && r.err == nil; i-- {
		r.skip(1+1, "register type")
		size := r.u32("register size")
		nameSize := r.u16("register name size")
		r.skip(1+uint64(nameSize), "register name")
		r.skip(8*uint64(size), "register bits")
	}
	for i := r.count(uint64(max(initial, 0)), 8, "initial layout bit"); i > 0 && r.err == nil; i-- {
		r.u32("virtual bit index")
		if size := int32(r.u32("virtual bit register size")); size > 0 {
			r.skip(uint64(size), "virtual bit register")
		}
	}
	r.skip(4*uint64(max(input, 0)), "input mapping")
	r.skip(4*uint64(max(final, 0)), "final layout")
}
