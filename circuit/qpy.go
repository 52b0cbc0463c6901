package circuit

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// QPY versions ParseQPY reads. Qiskit Runtime accepts 13 to 17; older
// versions differ only in ways that do not matter for standard-gate
// circuits with numeric parameters.
const (
	minQPYVersion = 10
	maxQPYVersion = 17
)

// qpyGates maps Qiskit's gate class names to the gate names of this package.
var qpyGates = map[string]string{
	"IGate": "id", "XGate": "x", "YGate": "y", "ZGate": "z", "HGate": "h",
	"SGate": "s", "SdgGate": "sdg", "TGate": "t", "TdgGate": "tdg", "SXGate": "sx", "SXdgGate": "sxdg",
	"RXGate": "rx", "RYGate": "ry", "RZGate": "rz", "RGate": "r", "PhaseGate": "p",
	"U1Gate": "u1", "U2Gate": "u2", "U3Gate": "u3", "UGate": "U",
	"CXGate": "cx", "CYGate": "cy", "CZGate": "cz", "CHGate": "ch", "CPhaseGate": "cp",
	"CRXGate": "crx", "CRYGate": "cry", "CRZGate": "crz", "CSGate": "cs", "CSdgGate": "csdg",
	"CSXGate": "csx", "CUGate": "cu", "CU1Gate": "cu1", "CU3Gate": "cu3",
	"SwapGate": "swap", "iSwapGate": "iswap", "ECRGate": "ecr", "DCXGate": "dcx",
	"RXXGate": "rxx", "RYYGate": "ryy", "RZZGate": "rzz", "RZXGate": "rzx",
	"XXMinusYYGate": "xx_minus_yy", "XXPlusYYGate": "xx_plus_yy",
	"CCXGate": "ccx", "CCZGate": "ccz", "CSwapGate": "cswap", "C3XGate": "c3x",
	"C3SXGate": "c3sx", "C4XGate": "c4x", "RCCXGate": "rccx", "RC3XGate": "rcccx",
}

// maxQPYField bounds one variable-length QPY field the reader keeps (a
// name, a parameter, an expression); longer ones are refused.
const maxQPYField = 1 << 20

// maxExprOps bounds the operations of one parameter expression.
const maxExprOps = 10_000

// qpyReader reads big-endian QPY fields from a stream, at most limit
// bytes of it; the first failed read sets err and every later read
// returns zero values.
type qpyReader struct {
	src   io.Reader
	pos   int64
	limit int64
	// overLimit is the error of a read past limit: the data is truncated,
	// or, when limit is a budget's, too large.
	overLimit func(what string, n uint64) error
	err       error
	num       [8]byte
	name64    [64]byte
	scratch   []byte
}

func newQPYReader(r io.Reader, limit int64, overLimit func(what string, n uint64) error) *qpyReader {
	return &qpyReader{src: r, limit: limit, overLimit: overLimit}
}

// short records a read that found too few bytes.
func (r *qpyReader) short(n uint64, what string, err error) {
	switch {
	case errors.Is(err, ErrLimit):
		r.err = err
	default:
		r.err = fmt.Errorf("truncated at byte %d reading %s (%d bytes wanted)", r.pos, what, n)
	}
}

// room reports whether n more bytes may be read.
func (r *qpyReader) room(n uint64, what string) bool {
	if r.err != nil {
		return false
	}
	if n > uint64(r.limit-r.pos) {
		r.err = r.overLimit(what, n)
		return false
	}
	return true
}

// take reads a field the reader keeps.
func (r *qpyReader) take(n uint64, what string) []byte {
	if !r.room(n, what) {
		return nil
	}
	if n > maxQPYField {
		r.err = fmt.Errorf("%s of %d bytes is longer than %d", what, n, maxQPYField)
		return nil
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(r.src, out); err != nil {
		r.short(n, what, err)
		return nil
	}
	r.pos += int64(n)
	return out
}

// skip reads past a field the reader does not keep.
func (r *qpyReader) skip(n uint64, what string) {
	if n == 0 || !r.room(n, what) {
		return
	}
	if r.scratch == nil {
		r.scratch = make([]byte, 4096)
	}
	for left := n; left > 0; {
		chunk := r.scratch[:min(left, uint64(len(r.scratch)))]
		got, err := io.ReadFull(r.src, chunk)
		r.pos += int64(got)
		if err != nil {
			r.short(n, what, err)
			return
		}
		left -= uint64(got)
	}
}

// name reads an instruction's name, sharing the string of a known one
// (a gate class, Measure, …) instead of allocating it for every
// instruction.
func (r *qpyReader) name(n uint64, what string) string {
	if n > uint64(len(r.name64)) {
		return r.str(n, what)
	}
	if !r.room(n, what) {
		return ""
	}
	buf := r.name64[:n]
	if _, err := io.ReadFull(r.src, buf); err != nil {
		r.short(n, what, err)
		return ""
	}
	r.pos += int64(n)
	if k, ok := qpyNames[string(buf)]; ok {
		return k
	}
	return string(buf)
}

// qpyNames are the instruction names read most, each as one string.
var qpyNames = func() map[string]string {
	m := map[string]string{"Measure": "Measure", "Reset": "Reset", "Barrier": "Barrier", "Delay": "Delay", "GlobalPhaseGate": "GlobalPhaseGate"}
	for k := range qpyGates {
		m[k] = k
	}
	return m
}()

func (r *qpyReader) fixed(n int, what string) []byte {
	if !r.room(uint64(n), what) {
		return nil
	}
	if _, err := io.ReadFull(r.src, r.num[:n]); err != nil {
		r.short(uint64(n), what, err)
		return nil
	}
	r.pos += int64(n)
	return r.num[:n]
}

func (r *qpyReader) u8(what string) uint8 {
	if b := r.fixed(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (r *qpyReader) u16(what string) uint16 {
	if b := r.fixed(2, what); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *qpyReader) u32(what string) uint32 {
	if b := r.fixed(4, what); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *qpyReader) u64(what string) uint64 {
	if b := r.fixed(8, what); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *qpyReader) str(n uint64, what string) string { return string(r.take(n, what)) }

// count reads a count and rejects one that cannot fit in the bytes left
// at minSize bytes per item.
func (r *qpyReader) count(n uint64, minSize int, what string) int {
	if r.err == nil && n > uint64(r.limit-r.pos)/uint64(minSize) {
		r.err = fmt.Errorf("%s count %d exceeds the remaining data", what, n)
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

// qpyCircuit accumulates the circuit being read.
type qpyCircuit struct {
	c       *Circuit
	version int
	params  map[string]bool
	// custom names the custom operations of the file, and defs those
	// with a definition (shared by every nested circuit of the file).
	custom map[string]bool
	defs   map[string]*qpyBody
	keep   bool
	budget *Budget
	tally  *tally
	// body, when set, collects the instructions of a nested circuit
	// instead of placing them; nesting is its depth.
	body    *qpyBody
	nesting int
	// inside counts the custom gates and control-flow blocks being
	// expanded: only the operations written at the top count in Ops.
	inside int
	// conds are the conditions of the if_else blocks being placed, which
	// the simulator's operations run under.
	conds []Condition
	// expanding are the custom operations being expanded: a definition
	// that calls one of them calls itself.
	expanding map[string]bool
}

// ParseQPY reads the single circuit of a QPY file (versions 10 to 17), as
// qiskit-ibm-runtime sends pub circuits, keeping its operations, within
// DefaultLimits. Standard gates, measurements, resets, barriers, delays,
// custom gates with definitions and if_else on measured bits are read,
// with numeric, Parameter, ParameterVector and ParameterExpression
// arguments; what the simulator cannot run is refused with a clear error.
func ParseQPY(data []byte) (*Circuit, error) {
	return Reader{Budget: NewBudget(DefaultLimits), KeepOps: true}.QPY(bytes.NewReader(data))
}

// QPY reads the single circuit of a QPY stream, drawing its bytes and
// instructions from the reader's budget; reading stops at the budget.
func (rd Reader) QPY(src io.Reader) (*Circuit, error) {
	cs, err := rd.QPYCircuits(src, 1)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// QPYCircuits reads every circuit of a QPY stream (at most max), all
// drawing on the reader's budget: several circuits in one stream are how
// the executor's programs send them.
func (rd Reader) QPYCircuits(src io.Reader, max int) ([]*Circuit, error) {
	r := newQPYReader(bufio.NewReaderSize(rd.Budget.Reader(src), 64<<10), rd.Budget.bytes, func(what string, n uint64) error {
		return fmt.Errorf("%w: reading %s (%d bytes) the circuits inflate to more than %d bytes", ErrLimit, what, n, rd.Budget.limits.Bytes)
	})
	cs, err := rd.readQPY(r, max)
	if err != nil {
		return nil, fmt.Errorf("qpy: %w", err)
	}
	return cs, nil
}

// readQPY reads the file header, then each circuit in turn.
func (rd Reader) readQPY(r *qpyReader, max int) ([]*Circuit, error) {
	if string(r.fixed(6, "magic")) != "QISKIT" {
		return nil, errors.New("not a QPY file (no QISKIT header)")
	}
	version := int(r.u8("version"))
	r.skip(3, "qiskit version")
	programs := r.u64("program count")
	if version < minQPYVersion || version > maxQPYVersion {
		return nil, fmt.Errorf("QPY version %d is not supported (%d to %d)", version, minQPYVersion, maxQPYVersion)
	}
	r.u8("symbolic encoding")
	if typ := r.u8("program type"); r.err == nil && typ != 'q' {
		return nil, fmt.Errorf("the QPY program is of type %q, not a circuit", typ)
	}
	if r.err != nil {
		return nil, r.err
	}
	if programs == 0 || programs > uint64(max) {
		return nil, fmt.Errorf("the QPY file holds %d programs; 1 to %d circuits are expected", programs, max)
	}
	var offsets []uint64
	if version >= 16 {
		for range programs {
			offsets = append(offsets, r.u64("program offset"))
		}
	}
	var out []*Circuit
	for i := range int(programs) {
		if i < len(offsets) && r.err == nil {
			if offsets[i] < uint64(r.pos) {
				return nil, fmt.Errorf("program %d starts at byte %d, before the end of the one before it (%d)", i, offsets[i], r.pos)
			}
			r.skip(offsets[i]-uint64(r.pos), "gap before a program")
		}
		c := &Circuit{gates: map[string]*gateDef{}}
		q := &qpyCircuit{c: c, version: version, params: map[string]bool{}, custom: map[string]bool{}, defs: map[string]*qpyBody{},
			keep: rd.KeepOps, budget: rd.Budget, tally: newTally(nil, rd.Budget)}
		if err := q.header(r); err != nil {
			if len(out) > 0 {
				err = fmt.Errorf("circuit %d: %w", i, err)
			}
			return nil, err
		}
		for name := range q.params {
			c.Parameters = append(c.Parameters, name)
		}
		sortParameters(c.Parameters)
		c.Facts = q.tally.facts(c)
		out = append(out, c)
		q.skipTail(r)
	}
	return out, r.err
}

func (q *qpyCircuit) header(r *qpyReader) error {
	nameSize := r.u16("circuit name size")
	r.u8("global phase type")
	phaseSize := r.u16("global phase size")
	qubits, clbits := r.u32("qubit count"), r.u32("clbit count")
	metaSize := r.u64("metadata size")
	registers := r.u32("register count")
	instructions := r.u64("instruction count")
	vars := uint32(0)
	if q.version >= 12 {
		vars = r.u32("variable count")
	}
	r.skip(uint64(nameSize), "circuit name")
	r.skip(uint64(phaseSize), "global phase")
	r.skip(metaSize, "metadata")
	if r.err != nil {
		return r.err
	}
	if qubits > maxRegisterSize || clbits > maxRegisterSize {
		return fmt.Errorf("%d qubits and %d clbits exceed the limit of %d", qubits, clbits, maxRegisterSize)
	}
	q.c.NumQubits, q.c.NumClbits = int(qubits), int(clbits)
	for i := r.count(uint64(registers), 9, "register"); i > 0 && r.err == nil; i-- {
		if err := q.register(r); err != nil {
			return err
		}
	}
	for i := r.count(uint64(vars), 20, "variable declaration"); i > 0 && r.err == nil; i-- {
		r.skip(16+1, "variable uuid and usage")
		nameSize := r.u16("variable name size")
		if r.u8("variable type") == 'u' {
			r.u32("variable width")
		}
		r.skip(uint64(nameSize), "variable name")
	}
	if q.version >= 15 {
		for i := r.count(uint64(r.u32("annotation namespace count")), 12, "annotation namespace"); i > 0 && r.err == nil; i-- {
			ns := r.u32("namespace size")
			state := r.u64("state size")
			r.skip(uint64(ns), "namespace")
			r.skip(state, "annotation state")
		}
	}
	for i := r.count(r.u64("custom instruction count"), 39, "custom instruction"); i > 0 && r.err == nil; i-- {
		if err := q.customOperation(r); err != nil {
			return err
		}
	}
	for i := r.count(instructions, 33, "instruction"); i > 0 && r.err == nil; i-- {
		if err := q.budget.instruction(); err != nil {
			return err
		}
		in, err := q.instruction(r)
		if err == nil {
			err = q.place(in)
		}
		if err != nil {
			return fmt.Errorf("instruction %d (offset %d): %w", int(instructions)-i, r.pos, err)
		}
	}
	return r.err
}

// register reads a register; classical ones become the circuit's
// registers (the result fields of the sampler).
func (q *qpyCircuit) register(r *qpyReader) error {
	typ := r.u8("register type")
	r.u8("standalone")
	size := r.u32("register size")
	if r.err == nil && size > maxRegisterSize {
		return fmt.Errorf("a register of %d bits exceeds the limit of %d", size, maxRegisterSize)
	}
	nameSize := r.u16("register name size")
	inCircuit := r.u8("register in circuit")
	name := r.str(uint64(nameSize), "register name")
	n := r.count(uint64(size), 8, "register bit")
	bits := make([]int, n)
	for i := range bits {
		bits[i] = int(int64(r.u64("register bit index")))
	}
	if r.err != nil || typ != 'c' || inCircuit == 0 {
		return r.err
	}
	for _, b := range bits {
		if b < 0 || b >= q.c.NumClbits {
			return fmt.Errorf("classical register %q refers to clbit %d of %d", name, b, q.c.NumClbits)
		}
	}
	if err := q.c.keep(len(name) + 8*len(bits)); err != nil {
		return err
	}
	q.c.Registers = append(q.c.Registers, Register{Name: name, Bits: bits})
	return nil
}

// instruction reads one instruction as written: its name, bits,
// numeric parameters and, for control flow, its blocks.
func (q *qpyCircuit) instruction(r *qpyReader) (*qpyInst, error) {
	nameSize, labelSize, numParams := r.u16("name size"), r.u16("label size"), r.u16("parameter count")
	numQargs, numCargs := r.u32("qarg count"), r.u32("carg count")
	extras := r.u8("extras key")
	condSize := r.u16("condition register size")
	condValue := r.u64("condition value")
	in := &qpyInst{numCtrl: r.u32("control qubit count"), ctrlState: r.u32("control state"), iterations: -1}
	in.name = r.name(uint64(nameSize), "instruction name")
	r.skip(uint64(labelSize), "label")
	condReg := r.take(uint64(condSize), "condition register")
	in.conditioned = extras&0x03 != 0
	if extras&0x03 == 1 && r.err == nil {
		in.cond = q.condition(condReg, condValue)
	}
	if extras&0x03 == 2 { // a classical expression
		r.u8("condition type")
		r.skip(r.u64("condition size"), "condition")
	}
	if r.err != nil {
		return nil, r.err
	}
	name := in.name
	if int(numQargs) > q.c.NumQubits || int(numCargs) > q.c.NumClbits {
		return nil, fmt.Errorf("%s acts on %d qubits and %d clbits of a circuit of %d and %d", name, numQargs, numCargs, q.c.NumQubits, q.c.NumClbits)
	}
	for i := r.count(uint64(numQargs)+uint64(numCargs), 5, "argument"); i > 0 && r.err == nil; i-- {
		kind, idx := r.u8("bit type"), int(r.u32("bit index"))
		switch {
		case r.err != nil:
			return nil, r.err
		case kind == 'q' && idx < q.c.NumQubits:
			in.qubits = append(in.qubits, idx)
		case kind == 'c' && idx < q.c.NumClbits:
			in.clbits = append(in.clbits, idx)
		default:
			return nil, fmt.Errorf("%s refers to bit %c%d outside the circuit", name, kind, idx)
		}
	}
	for i := r.count(uint64(numParams), 9, "parameter"); i > 0 && r.err == nil; i-- {
		typ := r.u8("parameter type")
		data := r.take(r.u64("parameter size"), "parameter")
		if r.err != nil {
			return nil, r.err
		}
		if classical[name] {
			if err := q.blockParam(in, typ, data, i == int(numParams)); err != nil {
				return nil, fmt.Errorf("%s parameter %d: %w", name, int(numParams)-i, err)
			}
			continue
		}
		e, err := q.value(typ, data)
		switch {
		case err == nil:
		case !q.keep: // a matrix, an array or a type met for the first time: no angle, the operation counts by its width
			e = numExpr(0)
		default:
			return nil, fmt.Errorf("%s parameter %d: %w", name, len(in.params), err)
		}
		in.params = append(in.params, e)
	}
	if extras&0x80 != 0 {
		for i := r.count(uint64(r.u32("annotation count")), 12, "annotation"); i > 0 && r.err == nil; i-- {
			r.u32("annotation namespace")
			r.skip(r.u64("annotation size"), "annotation")
		}
	}
	return in, r.err
}

func (q *qpyCircuit) addOp(name string, qubits, clbits []int, params []Expr, numCtrl, ctrlState uint32) error {
	if dup := duplicate(qubits); dup >= 0 {
		return fmt.Errorf("%s uses qubit %d more than once", name, dup)
	}
	op := Op{Qubits: qubits, Clbit: -1}
	switch name {
	case "Measure":
		if len(qubits) != 1 || len(clbits) != 1 {
			return errors.New("a measurement needs one qubit and one clbit")
		}
		op.Kind, op.Name, op.Clbit = OpMeasure, "measure", clbits[0]
	case "Reset":
		op.Kind, op.Name = OpReset, "reset"
	case "Barrier":
		op.Kind, op.Name = OpBarrier, "barrier"
	case "Delay":
		// Delays do not change the state; keep a numeric duration for the
		// timing model, in dt.
		op.Kind, op.Name, op.Unit = OpDelay, "delay", "dt"
		op.Params = []Expr{numExpr(0)}
		if len(params) > 0 {
			if v, err := params[0].Eval(nil); err == nil {
				op.Params[0] = numExpr(v)
			}
		}
	case "GlobalPhaseGate":
		return nil // unobservable
	default:
		gate, ok := qpyGates[name]
		switch {
		case ok:
		case !q.keep: // the gateway: an operation defined by its matrix or its kind counts by its width
			op.Kind, op.Name = OpGate, name
			q.add(op)
			return nil
		case q.custom[name]:
			return fmt.Errorf("custom operation %q has no definition the simulator can run: transpile to the backend's basis gates", name)
		default:
			return fmt.Errorf("instruction %q is not supported by the simulator", name)
		}
		if numCtrl > 0 && ctrlState != 1<<numCtrl-1 {
			return fmt.Errorf("%s with control state %b (open controls) is not supported", name, ctrlState)
		}
		np, nq, _ := gateSignature(gate, library)
		if len(params) != np || len(qubits) != nq || len(clbits) != 0 {
			return fmt.Errorf("%s takes %d parameters and %d qubits, got %d and %d", name, np, nq, len(params), len(qubits))
		}
		op.Kind, op.Name, op.Params = OpGate, gate, params
	}
	if op.Kind != OpMeasure && len(clbits) != 0 {
		return fmt.Errorf("%s cannot act on clbits", name)
	}
	if op.Kind == OpReset && len(qubits) != 1 {
		return errors.New("a reset acts on one qubit")
	}
	if op.Kind == OpDelay && len(qubits) != 1 {
		for _, qb := range qubits {
			split := op
			split.Qubits = []int{qb}
			q.add(split)
		}
		return nil
	}
	q.add(op)
	return nil
}

// add counts an operation in the facts and, when the reader keeps them,
// adds it to the circuit. Inside an expansion only its wires count.
func (q *qpyCircuit) add(op Op) {
	if q.inside == 0 {
		q.tally.op(op)
	} else {
		q.tally.place(op.Kind, op.Qubits, op.Clbit)
	}
	if q.keep {
		if len(q.conds) > 0 {
			op.Conds = slices.Clone(q.conds)
		}
		q.c.Ops = append(q.c.Ops, op)
	}
}

// value decodes an instruction parameter. QPY writes integer and float
// instruction parameters little-endian, unlike every other field.
func (q *qpyCircuit) value(typ byte, data []byte) (Expr, error) {
	r := newQPYReader(bytes.NewReader(data), int64(len(data)), func(what string, n uint64) error {
		return fmt.Errorf("%s of %d bytes runs past its parameter", what, n)
	})
	switch typ {
	case 'f', 'i':
		b := r.fixed(8, "number")
		if r.err != nil {
			return nil, r.err
		}
		bits := binary.LittleEndian.Uint64(b)
		if typ == 'i' {
			return numExpr(float64(int64(bits))), nil
		}
		return numExpr(math.Float64frombits(bits)), nil
	case 'c':
		re, im := math.Float64frombits(r.u64("real part")), math.Float64frombits(r.u64("imaginary part"))
		if r.err == nil && im != 0 {
			return nil, fmt.Errorf("complex parameter %v%+vi is not real", re, im)
		}
		return numExpr(re), r.err
	case 'p':
		name, _ := q.symbol(r)
		return varExpr(name), r.err
	case 'v':
		name, _ := q.vectorSymbol(r)
		return varExpr(name), r.err
	case 'e':
		if q.version < 13 {
			return nil, fmt.Errorf("parameter expressions of QPY version %d are not supported (13 or later)", q.version)
		}
		return q.expression(r)
	case 'z', 's', 'x': // none, a string, a classical expression (a delay's stretch): no angle
		return numExpr(0), nil
	}
	return nil, fmt.Errorf("unsupported parameter type %q", typ)
}

// symbol reads a Parameter (name size, uuid, name) and records it; it
// returns the name and the uuid.
func (q *qpyCircuit) symbol(r *qpyReader) (string, []byte) {
	size := r.u16("parameter name size")
	uuid := r.take(16, "parameter uuid")
	name := r.str(uint64(size), "parameter name")
	q.param(r, name)
	return name, uuid
}

// param records a parameter of the circuit; at most maxParameters.
func (q *qpyCircuit) param(r *qpyReader, name string) {
	if r.err != nil || q.params[name] {
		return
	}
	if len(q.params) >= maxParameters {
		r.err = fmt.Errorf("the circuit has more than %d parameters", maxParameters)
		return
	}
	if r.err = q.c.keep(len(name)); r.err != nil {
		return
	}
	q.params[name] = true
}

// vectorSymbol reads a ParameterVectorElement and records it as
// "name[index]".
func (q *qpyCircuit) vectorSymbol(r *qpyReader) (string, []byte) {
	size := r.u16("vector name size")
	r.u64("vector size")
	uuid := r.take(16, "element uuid")
	index := r.u64("element index")
	name := fmt.Sprintf("%s[%d]", r.str(uint64(size), "vector name"), index)
	q.param(r, name)
	return name, uuid
}

// qpyFuncs are the unary functions of QPY parameter expressions.
var qpyFuncs = map[byte]struct {
	name string
	f    func(float64) float64
}{
	5: {"sin", math.Sin}, 6: {"cos", math.Cos}, 7: {"tan", math.Tan}, 8: {"arcsin", math.Asin},
	9: {"arccos", math.Acos}, 10: {"exp", math.Exp}, 11: {"ln", math.Log}, 16: {"abs", math.Abs},
	17: {"arctan", math.Atan},
	12: {"sign", func(x float64) float64 {
		if x == 0 {
			return 0
		}
		return math.Copysign(1, x)
	}},
}

// expression reads a ParameterExpression: its replay of operations (each
// an opcode and two 16-byte operands) evaluated with a stack, and the
// symbol table that names the parameters by uuid.
func (q *qpyCircuit) expression(r *qpyReader) (Expr, error) {
	symbols := r.u64("symbol table length")
	if symbols > 2*maxExprOps {
		return nil, fmt.Errorf("an expression's symbol table of %d entries is longer than %d", symbols, 2*maxExprOps)
	}
	ops := r.take(r.u64("expression length"), "expression")
	names := map[[16]byte]string{}
	if err := q.symbolTable(r, symbols, names); err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(ops)/35 > maxExprOps {
		return nil, fmt.Errorf("an expression of %d operations is longer than %d", len(ops)/35, maxExprOps)
	}
	if len(ops)%35 != 0 {
		return nil, fmt.Errorf("expression data of %d bytes is not a whole number of 35-byte operations", len(ops))
	}
	var stack []Expr
	operand := func(typ byte, data []byte) (Expr, error) {
		switch typ {
		case 'i':
			return numExpr(float64(int64(binary.BigEndian.Uint64(data[8:])))), nil
		case 'f':
			return numExpr(math.Float64frombits(binary.BigEndian.Uint64(data[8:]))), nil
		case 'c':
			if im := math.Float64frombits(binary.BigEndian.Uint64(data[:8])); im != 0 {
				return nil, errors.New("complex values in parameter expressions are not supported")
			}
			return numExpr(math.Float64frombits(binary.BigEndian.Uint64(data[8:]))), nil
		case 'p':
			name, ok := names[[16]byte(data)]
			if !ok {
				return nil, errors.New("the expression refers to a parameter missing from its symbol table")
			}
			return varExpr(name), nil
		case 'n':
			if len(stack) == 0 {
				return nil, errors.New("malformed expression: empty stack")
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			return top, nil
		}
		return nil, fmt.Errorf("unexpected operand type %q", typ)
	}
	for i := 0; i < len(ops); i += 35 {
		op, lt, lhs, rt, rhs := ops[i], ops[i+1], ops[i+2:i+18], ops[i+18], ops[i+19:i+35]
		if op == 255 {
			continue // start or end of a nested expression: no payload
		}
		var out Expr
		if fn, ok := qpyFuncs[op]; ok {
			x, err := operand(lt, lhs)
			if err != nil {
				return nil, err
			}
			out = callExpr{fn.name, fn.f, x}
		} else if op == 14 { // conjugate: real values are their own conjugate
			x, err := operand(lt, lhs)
			if err != nil {
				return nil, err
			}
			out = x
		} else {
			y, err := operand(rt, rhs)
			if err != nil {
				return nil, err
			}
			x, err := operand(lt, lhs)
			if err != nil {
				return nil, err
			}
			switch op {
			case 0, 1, 2, 3, 4:
				out = binExpr{[]string{"+", "-", "*", "/", "**"}[op], x, y}
			case 18, 19, 20:
				out = binExpr{[]string{"-", "/", "**"}[op-18], y, x}
			default:
				return nil, fmt.Errorf("expression operation %d is not supported", op)
			}
		}
		stack = append(stack, out)
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("malformed expression: %d values left", len(stack))
	}
	return stack[0], nil
}

// symbolTable reads the parameters an expression uses into names.
func (q *qpyCircuit) symbolTable(r *qpyReader, n uint64, names map[[16]byte]string) error {
	for i := r.count(n, 10, "symbol"); i > 0 && r.err == nil; i-- {
		kind := r.u8("symbol kind")
		r.u8("symbol value type")
		valueLen := r.u64("symbol value size")
		var name string
		var uuid []byte
		switch kind {
		case 'p':
			name, uuid = q.symbol(r)
		case 'v':
			name, uuid = q.vectorSymbol(r)
		default:
			return fmt.Errorf("unknown symbol kind %q", kind)
		}
		r.skip(valueLen, "symbol value")
		if len(uuid) == 16 && r.err == nil {
			names[[16]byte(uuid)] = name
		}
	}
	return r.err
}
