package circuit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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
}

// qpyReader reads big-endian QPY fields; the first short read sets err and
// every later read returns zero values.
type qpyReader struct {
	b   []byte
	pos int
	err error
}

func (r *qpyReader) take(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.pos) {
		r.err = fmt.Errorf("truncated at byte %d reading %s (%d bytes wanted, %d left)", r.pos, what, n, len(r.b)-r.pos)
		return nil
	}
	out := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return out
}

func (r *qpyReader) u8(what string) uint8 {
	if b := r.take(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (r *qpyReader) u16(what string) uint16 {
	if b := r.take(2, what); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *qpyReader) u32(what string) uint32 {
	if b := r.take(4, what); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *qpyReader) u64(what string) uint64 {
	if b := r.take(8, what); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *qpyReader) str(n uint64, what string) string { return string(r.take(n, what)) }

// count reads a count and rejects one that cannot fit in the remaining
// bytes at minSize bytes per item.
func (r *qpyReader) count(n uint64, minSize int, what string) int {
	if r.err == nil && n > uint64(len(r.b)-r.pos)/uint64(minSize) {
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
	custom  map[string]bool
}

// ParseQPY reads the single circuit of a QPY file (versions 10 to 17), as
// qiskit-ibm-runtime sends pub circuits. Standard gates, measurements,
// resets, barriers and delays with numeric, Parameter, ParameterVector and
// ParameterExpression arguments are read; custom gate definitions, classical
// conditions and variables are rejected with a clear error.
func ParseQPY(data []byte) (*Circuit, error) {
	c, err := parseQPY(&qpyReader{b: data})
	if err != nil {
		return nil, fmt.Errorf("qpy: %w", err)
	}
	return c, nil
}

func parseQPY(r *qpyReader) (*Circuit, error) {
	if string(r.take(6, "magic")) != "QISKIT" {
		return nil, errors.New("not a QPY file (no QISKIT header)")
	}
	version := int(r.u8("version"))
	r.take(3, "qiskit version")
	programs := r.u64("program count")
	if version < minQPYVersion || version > maxQPYVersion {
		return nil, fmt.Errorf("QPY version %d is not supported (%d to %d)", version, minQPYVersion, maxQPYVersion)
	}
	r.u8("symbolic encoding")
	if typ := r.u8("program type"); r.err == nil && typ != 'q' {
		return nil, fmt.Errorf("the QPY program is of type %q, not a circuit", typ)
	}
	if r.err == nil && programs != 1 {
		return nil, fmt.Errorf("the QPY file holds %d programs, exactly one circuit is expected", programs)
	}
	if version >= 16 {
		r.take(8*programs, "program offsets")
	}
	q := &qpyCircuit{c: &Circuit{gates: map[string]*gateDef{}}, version: version, params: map[string]bool{}, custom: map[string]bool{}}
	if err := q.header(r); err != nil {
		return nil, err
	}
	for name := range q.params {
		q.c.Parameters = append(q.c.Parameters, name)
	}
	sortParameters(q.c.Parameters)
	return q.c, r.err
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
	r.take(uint64(nameSize), "circuit name")
	r.take(uint64(phaseSize), "global phase")
	r.take(metaSize, "metadata")
	if r.err != nil {
		return r.err
	}
	if qubits > maxRegisterSize || clbits > maxRegisterSize {
		return fmt.Errorf("%d qubits and %d clbits exceed the limit of %d", qubits, clbits, maxRegisterSize)
	}
	q.c.NumQubits, q.c.NumClbits = int(qubits), int(clbits)
	for i := r.count(uint64(registers), 9, "register"); i > 0; i-- {
		if err := q.register(r); err != nil {
			return err
		}
	}
	if vars > 0 {
		return errors.New("classical variables are not supported by the simulator")
	}
	if q.version >= 15 {
		for i := r.count(uint64(r.u32("annotation namespace count")), 12, "annotation namespace"); i > 0; i-- {
			ns := r.u32("namespace size")
			state := r.u64("state size")
			r.take(uint64(ns), "namespace")
			r.take(state, "annotation state")
		}
	}
	for i := r.count(r.u64("custom instruction count"), 39, "custom instruction"); i > 0; i-- {
		nameSize := r.u16("custom name size")
		r.take(1+4+4+1, "custom instruction header")
		size := r.u64("custom definition size")
		r.take(4+4, "custom control data")
		baseSize := r.u64("base gate size")
		q.custom[r.str(uint64(nameSize), "custom name")] = true
		r.take(size, "custom definition")
		r.take(baseSize, "base gate")
	}
	if instructions > maxOps {
		return fmt.Errorf("%d instructions exceed the limit of %d", instructions, maxOps)
	}
	for i := r.count(instructions, 33, "instruction"); i > 0 && r.err == nil; i-- {
		if err := q.instruction(r); err != nil {
			return fmt.Errorf("instruction %d: %w", len(q.c.Ops), err)
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
	q.c.Registers = append(q.c.Registers, Register{Name: name, Bits: bits})
	return nil
}

func (q *qpyCircuit) instruction(r *qpyReader) error {
	nameSize, labelSize, numParams := r.u16("name size"), r.u16("label size"), r.u16("parameter count")
	numQargs, numCargs := r.u32("qarg count"), r.u32("carg count")
	extras := r.u8("extras key")
	r.u16("condition register size")
	r.u64("condition value")
	numCtrl, ctrlState := r.u32("control qubit count"), r.u32("control state")
	name := r.str(uint64(nameSize), "instruction name")
	r.take(uint64(labelSize), "label")
	if r.err != nil {
		return r.err
	}
	if extras&0x03 != 0 {
		return fmt.Errorf("%s is classically conditioned, which the simulator does not support", name)
	}
	var qubits, clbits []int
	for i := r.count(uint64(numQargs)+uint64(numCargs), 5, "argument"); i > 0; i-- {
		kind, idx := r.u8("bit type"), int(r.u32("bit index"))
		switch {
		case r.err != nil:
			return r.err
		case kind == 'q' && idx < q.c.NumQubits:
			qubits = append(qubits, idx)
		case kind == 'c' && idx < q.c.NumClbits:
			clbits = append(clbits, idx)
		default:
			return fmt.Errorf("%s refers to bit %c%d outside the circuit", name, kind, idx)
		}
	}
	var params []Expr
	for i := r.count(uint64(numParams), 9, "parameter"); i > 0; i-- {
		typ := r.u8("parameter type")
		data := r.take(r.u64("parameter size"), "parameter")
		if r.err != nil {
			return r.err
		}
		e, err := q.value(typ, data)
		if err != nil {
			return fmt.Errorf("%s parameter %d: %w", name, len(params), err)
		}
		params = append(params, e)
	}
	if extras&0x80 != 0 {
		for i := r.count(uint64(r.u32("annotation count")), 12, "annotation"); i > 0; i-- {
			r.u32("annotation namespace")
			r.take(r.u64("annotation size"), "annotation")
		}
	}
	if r.err != nil {
		return r.err
	}
	return q.addOp(name, qubits, clbits, params, numCtrl, ctrlState)
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
		if !ok {
			if q.custom[name] {
				return fmt.Errorf("custom gate %q is not supported: transpile to the backend's basis gates", name)
			}
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
			q.c.Ops = append(q.c.Ops, split)
		}
		return nil
	}
	q.c.Ops = append(q.c.Ops, op)
	return nil
}

// value decodes an instruction parameter. QPY writes integer and float
// instruction parameters little-endian, unlike every other field.
func (q *qpyCircuit) value(typ byte, data []byte) (Expr, error) {
	r := &qpyReader{b: data}
	switch typ {
	case 'f', 'i':
		b := r.take(8, "number")
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
		name := q.symbol(r)
		return varExpr(name), r.err
	case 'v':
		name := q.vectorSymbol(r)
		return varExpr(name), r.err
	case 'e':
		if q.version < 13 {
			return nil, fmt.Errorf("parameter expressions of QPY version %d are not supported (13 or later)", q.version)
		}
		return q.expression(r)
	case 'z', 's':
		return numExpr(0), nil
	}
	return nil, fmt.Errorf("unsupported parameter type %q", typ)
}

// symbol reads a Parameter (name size, uuid, name) and records it.
func (q *qpyCircuit) symbol(r *qpyReader) string {
	size := r.u16("parameter name size")
	r.take(16, "parameter uuid")
	name := r.str(uint64(size), "parameter name")
	if r.err == nil {
		q.params[name] = true
	}
	return name
}

// vectorSymbol reads a ParameterVectorElement and records it as
// "name[index]".
func (q *qpyCircuit) vectorSymbol(r *qpyReader) string {
	size := r.u16("vector name size")
	r.u64("vector size")
	r.take(16, "element uuid")
	index := r.u64("element index")
	name := fmt.Sprintf("%s[%d]", r.str(uint64(size), "vector name"), index)
	if r.err == nil {
		q.params[name] = true
	}
	return name
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
	ops := r.take(r.u64("expression length"), "expression")
	names := map[[16]byte]string{}
	if err := q.symbolTable(r, symbols, names); err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
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
			uuid = r.b[min(r.pos+2, len(r.b)):min(r.pos+18, len(r.b))]
			name = q.symbol(r)
		case 'v':
			uuid = r.b[min(r.pos+10, len(r.b)):min(r.pos+26, len(r.b))]
			name = q.vectorSymbol(r)
		default:
			return fmt.Errorf("unknown symbol kind %q", kind)
		}
		r.take(valueLen, "symbol value")
		if len(uuid) == 16 && r.err == nil {
			names[[16]byte(uuid)] = name
		}
	}
	return r.err
}
