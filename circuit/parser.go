package circuit

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits that keep a hostile circuit from exhausting memory while parsing.
const (
	maxRegisterSize = 1 << 16
	// maxExprDepth bounds the nesting of an expression, and maxExprTerms
	// its terms (operands and unary operators): every walk of an
	// expression (evaluating it, comparing definitions) is bounded.
	maxExprDepth = 64
	maxExprTerms = 1024
	// maxParameters bounds a circuit's free parameters.
	maxParameters = 1 << 16
)

// gateDef is a user-defined gate: `gate name(params) qubits { body }`.
type gateDef struct {
	name   string
	params []string
	qubits []string
	body   []gateCall
	// standard marks a program's definition that is exactly the standard
	// library's gate of the same name (as Qiskit's exporter writes ecr and
	// rzx): it counts as that one gate, as it runs natively; any other
	// definition is expanded when depth is counted.
	standard bool
}

// shape renders a definition's body with its parameters and qubits by
// position, so that two definitions of the same gate compare equal.
func (d *gateDef) shape() string {
	var b strings.Builder
	for _, call := range d.body {
		b.WriteString(call.name)
		for _, a := range call.args {
			b.WriteByte(' ')
			b.WriteString(positional(a, d.params))
		}
		for _, q := range call.qubits {
			fmt.Fprintf(&b, " q%d", q)
		}
		b.WriteByte(';')
	}
	return b.String()
}

// sameAsLibrary reports whether a program's definition is the library's
// gate of that name and calls only standard gates or such definitions.
func sameAsLibrary(d *gateDef, defs, lib map[string]*gateDef) bool {
	std, ok := lib[d.name]
	if !ok || len(std.params) != len(d.params) || len(std.qubits) != len(d.qubits) || std.shape() != d.shape() {
		return false
	}
	for _, call := range d.body {
		if own := defs[call.name]; own != nil && !own.standard {
			return false
		}
	}
	return true
}

// gateCall is one call inside a gate body; qubits index the definition's
// qubit arguments.
type gateCall struct {
	name   string
	args   []Expr
	qubits []int
}

type qreg struct{ offset, size int }

type parser struct {
	lex   *lexer
	ahead []token // tokens read and not yet consumed

	c         *Circuit
	lib       map[string]*gateDef
	version   int
	qregs     map[string]qreg
	cregs     map[string]int // index into c.Registers
	params    map[string]bool
	virtual   bool // qubits were declared
	maxPhys   int
	gateHead  bool // at least one statement has been parsed
	exprDepth int
	exprTerms int

	keep   bool // keep the operations, not only the facts
	budget *Budget
	tally  *tally
}

// Reader reads circuits within a budget: with KeepOps it keeps their
// operations (to simulate them), otherwise only their facts, so that
// reading holds memory in proportion to the circuit's width, not its
// length.
type Reader struct {
	Budget  *Budget
	KeepOps bool
}

// Parse parses an OpenQASM 2.0 or 3 program, keeping its operations,
// within DefaultLimits. Errors are *SyntaxError values naming the line and
// column of the problem.
func Parse(src string) (*Circuit, error) {
	return Reader{Budget: NewBudget(DefaultLimits), KeepOps: true}.QASM(src)
}

// QASM reads an OpenQASM 2.0 or 3 program. Errors are *SyntaxError values
// naming the line and column of the problem; one that exceeds the
// budget wraps ErrLimit.
func (rd Reader) QASM(src string) (*Circuit, error) { return rd.read(src, library) }

// read reads a program whose calls may name the gates of lib.
func (rd Reader) read(src string, lib map[string]*gateDef) (*Circuit, error) {
	c := &Circuit{gates: map[string]*gateDef{}}
	p := &parser{
		lex:     newLexer(src),
		c:       c,
		lib:     lib,
		version: 3,
		qregs:   map[string]qreg{},
		cregs:   map[string]int{},
		params:  map[string]bool{},
		maxPhys: -1,
		keep:    rd.KeepOps,
		budget:  rd.Budget,
		tally:   newTally(c.gates, rd.Budget),
	}
	for p.peek().kind != tokEOF {
		if err := p.statement(); err != nil {
			return nil, err
		}
		p.gateHead = true
	}
	if p.lex.err != nil {
		return nil, p.lex.err
	}
	if c.Physical {
		c.NumQubits = p.maxPhys + 1
	}
	for name := range p.params {
		c.Parameters = append(c.Parameters, name)
	}
	sortParameters(c.Parameters)
	c.Facts = p.tally.facts(c)
	if !rd.KeepOps {
		c.detach()
	}
	return c, nil
}

func (p *parser) peek() token { return p.peekAt(0) }

// peekAt returns the token k places ahead.
func (p *parser) peekAt(k int) token {
	for len(p.ahead) <= k {
		p.ahead = append(p.ahead, p.lex.next())
	}
	return p.ahead[k]
}

func (p *parser) next() token {
	t := p.peek()
	if t.kind != tokEOF {
		copy(p.ahead, p.ahead[1:])
		p.ahead = p.ahead[:len(p.ahead)-1]
	}
	return t
}

// errAt is a syntax error at a token; a lexical error met earlier (which
// ended the tokens) is the real one.
func (p *parser) errAt(t token, format string, args ...any) error {
	if p.lex.err != nil {
		return p.lex.err
	}
	return &SyntaxError{Line: t.line, Col: t.col, Msg: fmt.Sprintf(format, args...)}
}

// spend draws one instruction from the budget.
func (p *parser) spend(at token) error {
	if err := p.budget.instruction(); err != nil {
		return &SyntaxError{Line: at.line, Col: at.col, Msg: err.Error(), Err: err}
	}
	return nil
}

func (p *parser) expect(sym string) error {
	t := p.next()
	if t.text != sym || t.kind == tokString {
		return p.errAt(t, "expected %q, found %s", sym, t)
	}
	return nil
}

func (p *parser) ident() (token, error) {
	t := p.next()
	if t.kind != tokIdent {
		return t, p.errAt(t, "expected an identifier, found %s", t)
	}
	return t, nil
}

func (p *parser) integer() (int, token, error) {
	t := p.next()
	if t.kind != tokNumber {
		return 0, t, p.errAt(t, "expected an integer, found %s", t)
	}
	n, err := strconv.Atoi(strings.ReplaceAll(t.text, "_", ""))
	if err != nil || n < 0 {
		return 0, t, p.errAt(t, "expected a non-negative integer, found %s", t)
	}
	return n, t, nil
}

// size parses "[n]" and checks it against the register limit.
func (p *parser) size() (int, error) {
	if err := p.expect("["); err != nil {
		return 0, err
	}
	n, t, err := p.integer()
	if err != nil {
		return 0, err
	}
	if n == 0 || n > maxRegisterSize {
		return 0, p.errAt(t, "register size %d is out of range (1 to %d)", n, maxRegisterSize)
	}
	return n, p.expect("]")
}

// unsupported names statements that are valid OpenQASM 3 but that the
// simulator cannot execute.
var unsupported = map[string]string{
	"if": "classical control flow", "else": "classical control flow", "for": "classical control flow",
	"while": "classical control flow", "switch": "classical control flow", "def": "subroutines",
	"extern": "extern functions", "defcal": "pulse calibrations", "cal": "pulse calibrations",
	"defcalgrammar": "pulse calibrations", "box": "boxes", "let": "aliases", "const": "constants",
	"output": "output variables", "ctrl": "gate modifiers", "negctrl": "gate modifiers",
	"inv": "gate modifiers", "pow": "gate modifiers", "opaque": "opaque gates",
	"int": "classical variables", "uint": "classical variables", "float": "classical variables",
	"angle": "classical variables", "bool": "classical variables", "duration": "classical variables",
	"stretch": "classical variables", "complex": "classical variables", "return": "subroutines",
}

func (p *parser) statement() error {
	t := p.peek()
	if t.kind != tokIdent {
		return p.errAt(t, "expected a statement, found %s", t)
	}
	switch t.text {
	case "OPENQASM":
		return p.versionStmt()
	case "include":
		return p.includeStmt()
	case "qreg", "creg", "qubit", "bit":
		return p.declaration()
	case "input":
		return p.inputStmt()
	case "gate":
		return p.gateStmt()
	case "measure":
		return p.measureArrow()
	case "reset", "barrier":
		return p.resetOrBarrier()
	case "delay":
		return p.delayStmt()
	case "gphase":
		// A global phase is unobservable in sampled and expectation results.
		p.next()
		if err := p.expect("("); err != nil {
			return err
		}
		if _, err := p.parseExpr(p.isParam); err != nil {
			return err
		}
		if err := p.expect(")"); err != nil {
			return err
		}
		return p.expect(";")
	}
	if what, ok := unsupported[t.text]; ok {
		return p.errAt(t, "%s (%q) are not supported by the simulator", what, t.text)
	}
	// Assignment of a measurement: c = measure q; c[0] = measure $0;
	if next := p.peekAt(1).text; next == "=" || next == "[" && p.peekAt(4).text == "=" {
		return p.measureAssign()
	}
	return p.gateCallStmt()
}

func (p *parser) versionStmt() error {
	t := p.next()
	if p.gateHead {
		return p.errAt(t, "the OPENQASM version statement must come first")
	}
	v := p.next()
	if v.kind != tokNumber {
		return p.errAt(v, "expected a version number, found %s", v)
	}
	switch v.text {
	case "2", "2.0":
		p.version = 2
	case "3", "3.0", "3.1":
		p.version = 3
	default:
		return p.errAt(v, "unsupported OpenQASM version %s", v.text)
	}
	return p.expect(";")
}

func (p *parser) includeStmt() error {
	p.next()
	f := p.next()
	if f.kind != tokString {
		return p.errAt(f, "expected a file name string, found %s", f)
	}
	if f.text != "stdgates.inc" && f.text != "qelib1.inc" {
		return p.errAt(f, "cannot include %q: only stdgates.inc and qelib1.inc are available", f.text)
	}
	return p.expect(";")
}

// declaration parses `qreg name[n];`, `creg name[n];` (OpenQASM 2) and
// `qubit[n] name;`, `bit[n] name;` (OpenQASM 3, size optional).
func (p *parser) declaration() error {
	kw := p.next().text
	var name token
	var err error
	n := 1
	if kw == "qreg" || kw == "creg" {
		if name, err = p.ident(); err != nil {
			return err
		}
		if n, err = p.size(); err != nil {
			return err
		}
	} else {
		if p.peek().text == "[" {
			if n, err = p.size(); err != nil {
				return err
			}
		}
		if name, err = p.ident(); err != nil {
			return err
		}
	}
	if kw == "qreg" || kw == "qubit" {
		return p.declareQubits(name, n)
	}
	return p.declareBits(name, n)
}

func (p *parser) declareQubits(name token, n int) error {
	if err := p.expect(";"); err != nil {
		return err
	}
	if p.c.Physical {
		return p.errAt(name, "qubit declarations cannot be mixed with physical qubits")
	}
	if err := p.checkNewName(name); err != nil {
		return err
	}
	if p.c.NumQubits+n > maxRegisterSize {
		return p.errAt(name, "too many qubits (more than %d)", maxRegisterSize)
	}
	p.virtual = true
	p.qregs[name.text] = qreg{p.c.NumQubits, n}
	p.c.NumQubits += n
	return nil
}

func (p *parser) declareBits(name token, n int) error {
	if err := p.expect(";"); err != nil {
		return err
	}
	if err := p.checkNewName(name); err != nil {
		return err
	}
	if p.c.NumClbits+n > maxRegisterSize {
		return p.errAt(name, "too many classical bits (more than %d)", maxRegisterSize)
	}
	if err := p.c.keep(len(name.text) + 8*n); err != nil {
		return p.errAt(name, "%v", err)
	}
	p.cregs[name.text] = len(p.c.Registers)
	p.c.Registers = append(p.c.Registers, Register{Name: name.text, Bits: seq(p.c.NumClbits, n)})
	p.c.NumClbits += n
	return nil
}

func (p *parser) checkNewName(name token) error {
	_, q := p.qregs[name.text]
	_, c := p.cregs[name.text]
	if q || c || p.params[name.text] {
		return p.errAt(name, "%q is already declared", name.text)
	}
	return nil
}

func (p *parser) inputStmt() error {
	p.next()
	typ, err := p.ident()
	if err != nil {
		return err
	}
	if typ.text != "float" && typ.text != "angle" {
		return p.errAt(typ, "input parameters must be float or angle, not %q", typ.text)
	}
	if p.peek().text == "[" {
		p.next()
		if _, _, err := p.integer(); err != nil {
			return err
		}
		if err := p.expect("]"); err != nil {
			return err
		}
	}
	name, err := p.ident()
	if err != nil {
		return err
	}
	if err := p.checkNewName(name); err != nil {
		return err
	}
	if len(p.params) >= maxParameters {
		return p.errAt(name, "the circuit has more than %d parameters", maxParameters)
	}
	if err := p.c.keep(len(name.text)); err != nil {
		return p.errAt(name, "%v", err)
	}
	p.params[name.text] = true
	return p.expect(";")
}

func (p *parser) isParam(name string) bool { return p.params[name] }

// qubitOperand parses `$n`, `reg` or `reg[i]` and returns the qubit indices.
func (p *parser) qubitOperand() ([]int, token, error) {
	t := p.next()
	if t.kind == tokPhysical {
		if p.virtual {
			return nil, t, p.errAt(t, "physical qubits cannot be mixed with declared qubits")
		}
		n, err := strconv.Atoi(t.text)
		if err != nil || n >= maxRegisterSize {
			return nil, t, p.errAt(t, "physical qubit $%s is out of range", t.text)
		}
		p.c.Physical = true
		if n > p.maxPhys {
			p.maxPhys = n
		}
		return []int{n}, t, nil
	}
	if t.kind != tokIdent {
		return nil, t, p.errAt(t, "expected a qubit, found %s", t)
	}
	r, ok := p.qregs[t.text]
	if !ok {
		return nil, t, p.errAt(t, "undeclared qubit register %q", t.text)
	}
	idx, all, err := p.optionalIndex(r.size, t)
	if err != nil {
		return nil, t, err
	}
	if all {
		return seq(r.offset, r.size), t, nil
	}
	return []int{r.offset + idx}, t, nil
}

// bitOperand parses `reg` or `reg[i]` and returns the global clbit indices.
func (p *parser) bitOperand() ([]int, token, error) {
	t, err := p.ident()
	if err != nil {
		return nil, t, err
	}
	ri, ok := p.cregs[t.text]
	if !ok {
		return nil, t, p.errAt(t, "undeclared classical register %q", t.text)
	}
	r := p.c.Registers[ri]
	idx, all, err := p.optionalIndex(r.Size(), t)
	if err != nil {
		return nil, t, err
	}
	if all {
		return r.Bits, t, nil
	}
	return []int{r.Bits[idx]}, t, nil
}

func (p *parser) optionalIndex(size int, name token) (int, bool, error) {
	if p.peek().text != "[" {
		return 0, true, nil
	}
	p.next()
	i, t, err := p.integer()
	if err != nil {
		return 0, false, err
	}
	if i >= size {
		return 0, false, p.errAt(t, "index %d is out of range for %q of size %d", i, name.text, size)
	}
	return i, false, p.expect("]")
}

func seq(offset, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = offset + i
	}
	return s
}

// addOp counts an operation in the facts and, when the reader keeps
// them, adds it to the circuit.
func (p *parser) addOp(op Op, at token) error {
	if err := p.spend(at); err != nil {
		return err
	}
	op.Line = at.line
	p.tally.op(op)
	if p.keep {
		p.c.Ops = append(p.c.Ops, op)
	}
	return nil
}

// measureArrow parses `measure q -> c;`.
func (p *parser) measureArrow() error {
	kw := p.next()
	qs, qt, err := p.qubitOperand()
	if err != nil {
		return err
	}
	if p.peek().text == ";" && p.version == 3 {
		p.next()
		return p.addMeasures(qs, nil, qt, kw)
	}
	if err := p.expect("->"); err != nil {
		return err
	}
	cs, _, err := p.bitOperand()
	if err != nil {
		return err
	}
	if err := p.expect(";"); err != nil {
		return err
	}
	return p.addMeasures(qs, cs, qt, kw)
}

// measureAssign parses `c = measure q;` and `c[i] = measure q;`.
func (p *parser) measureAssign() error {
	cs, _, err := p.bitOperand()
	if err != nil {
		return err
	}
	if err := p.expect("="); err != nil {
		return err
	}
	kw := p.next()
	if kw.text != "measure" {
		return p.errAt(kw, "only measurement results can be assigned, found %s", kw)
	}
	qs, qt, err := p.qubitOperand()
	if err != nil {
		return err
	}
	if err := p.expect(";"); err != nil {
		return err
	}
	return p.addMeasures(qs, cs, qt, kw)
}

func (p *parser) addMeasures(qs, cs []int, qt, at token) error {
	if cs != nil && len(qs) != len(cs) {
		return p.errAt(qt, "measuring %d qubits into %d bits", len(qs), len(cs))
	}
	for i, q := range qs {
		cl := -1
		if cs != nil {
			cl = cs[i]
		}
		if err := p.addOp(Op{Kind: OpMeasure, Name: "measure", Qubits: []int{q}, Clbit: cl}, at); err != nil {
			return err
		}
	}
	return nil
}

// operandList parses comma-separated qubit operands up to ";".
func (p *parser) operandList(allowEmpty bool) ([][]int, token, error) {
	var ops [][]int
	first := p.peek()
	if p.peek().text == ";" && allowEmpty {
		p.next()
		return nil, first, nil
	}
	for {
		qs, _, err := p.qubitOperand()
		if err != nil {
			return nil, first, err
		}
		ops = append(ops, qs)
		if p.peek().text != "," {
			break
		}
		p.next()
	}
	return ops, first, p.expect(";")
}

func (p *parser) resetOrBarrier() error {
	kw := p.next()
	ops, _, err := p.operandList(kw.text == "barrier")
	if err != nil {
		return err
	}
	if kw.text == "barrier" {
		var qs []int
		if ops == nil {
			qs = seq(0, p.c.NumQubits)
		}
		for _, o := range ops {
			qs = append(qs, o...)
		}
		return p.addOp(Op{Kind: OpBarrier, Name: "barrier", Qubits: qs, Clbit: -1}, kw)
	}
	for _, o := range ops {
		for _, q := range o {
			if err := p.addOp(Op{Kind: OpReset, Name: "reset", Qubits: []int{q}, Clbit: -1}, kw); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *parser) delayStmt() error {
	kw := p.next()
	if err := p.expect("["); err != nil {
		return err
	}
	d := p.next()
	if d.kind != tokNumber {
		return p.errAt(d, "expected a duration such as 100dt, found %s", d)
	}
	num := strings.TrimRightFunc(d.text, func(r rune) bool { return r >= 'a' && r <= 'z' || r == 'µ' })
	unit := d.text[len(num):]
	if unit == "" {
		return p.errAt(d, "duration %s has no unit (dt, ns, us, ms or s)", d.text)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return p.errAt(d, "invalid duration %s", d.text)
	}
	if err := p.expect("]"); err != nil {
		return err
	}
	ops, _, err := p.operandList(false)
	if err != nil {
		return err
	}
	for _, o := range ops {
		for _, q := range o {
			if err := p.addOp(Op{Kind: OpDelay, Name: "delay", Qubits: []int{q}, Clbit: -1, Params: []Expr{numExpr(v)}, Unit: unit}, kw); err != nil {
				return err
			}
		}
	}
	return nil
}

// signature returns the parameter and qubit counts of a gate the program
// defined, a standard gate or a library gate.
func (p *parser) signature(name string, defs map[string]*gateDef) (params, qubits int, ok bool) {
	if d, found := defs[name]; found {
		return len(d.params), len(d.qubits), true
	}
	return gateSignature(name, p.lib)
}

// gateSignature returns the parameter and qubit counts of a standard gate
// or a gate of lib.
func gateSignature(name string, lib map[string]*gateDef) (params, qubits int, ok bool) {
	if g, found := stdGates[name]; found {
		return g.params, g.qubits, true
	}
	if d, found := lib[name]; found {
		return len(d.params), len(d.qubits), true
	}
	return 0, 0, false
}

// callArgs parses an optional parenthesised argument list.
func (p *parser) callArgs(known func(string) bool) ([]Expr, error) {
	if p.peek().text != "(" {
		return nil, nil
	}
	p.next()
	var args []Expr
	if p.peek().text == ")" {
		p.next()
		return nil, nil
	}
	for {
		e, err := p.parseExpr(known)
		if err != nil {
			return nil, err
		}
		args = append(args, e)
		if p.peek().text != "," {
			break
		}
		p.next()
	}
	return args, p.expect(")")
}

func (p *parser) gateCallStmt() error {
	name := p.next()
	np, nq, ok := p.signature(name.text, p.c.gates)
	if !ok {
		return p.errAt(name, "unknown gate %q", name.text)
	}
	if p.peek().text == "@" {
		return p.errAt(name, "gate modifiers are not supported by the simulator")
	}
	args, err := p.callArgs(p.isParam)
	if err != nil {
		return err
	}
	if len(args) != np {
		return p.errAt(name, "gate %q takes %d parameters, got %d", name.text, np, len(args))
	}
	ops, _, err := p.operandList(false)
	if err != nil {
		return err
	}
	if len(ops) != nq {
		return p.errAt(name, "gate %q acts on %d qubits, got %d", name.text, nq, len(ops))
	}
	// Broadcast register operands (OpenQASM 2 `cx q, r;`).
	width := 1
	for _, o := range ops {
		if len(o) > 1 {
			if width > 1 && len(o) != width {
				return p.errAt(name, "register operands of gate %q have different sizes", name.text)
			}
			width = len(o)
		}
	}
	for k := 0; k < width; k++ {
		qs := make([]int, nq)
		for i, o := range ops {
			if len(o) == 1 {
				qs[i] = o[0]
			} else {
				qs[i] = o[k]
			}
		}
		if dup := duplicate(qs); dup >= 0 {
			return p.errAt(name, "gate %q uses qubit %d more than once", name.text, dup)
		}
		if err := p.addOp(Op{Kind: OpGate, Name: name.text, Qubits: qs, Clbit: -1, Params: args}, name); err != nil {
			return err
		}
	}
	return nil
}

// duplicate returns a qubit named twice in qs, or -1: by comparing pairs
// for a gate's few operands, with a set for a barrier's many.
func duplicate(qs []int) int {
	if len(qs) > 8 {
		seen := make(map[int]bool, len(qs))
		for _, q := range qs {
			if seen[q] {
				return q
			}
			seen[q] = true
		}
		return -1
	}
	for i := range qs {
		for j := i + 1; j < len(qs); j++ {
			if qs[i] == qs[j] {
				return qs[i]
			}
		}
	}
	return -1
}

func (p *parser) identList(end string) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	for p.peek().text != end {
		t, err := p.ident()
		if err != nil {
			return nil, err
		}
		if seen[t.text] {
			return nil, p.errAt(t, "%q appears twice", t.text)
		}
		seen[t.text] = true
		names = append(names, t.text)
		if p.peek().text != "," {
			break
		}
		p.next()
	}
	return names, nil
}

func (p *parser) gateStmt() error {
	p.next()
	name, err := p.ident()
	if err != nil {
		return err
	}
	def := &gateDef{name: name.text}
	if p.peek().text == "(" {
		p.next()
		if def.params, err = p.identList(")"); err != nil {
			return err
		}
		if err := p.expect(")"); err != nil {
			return err
		}
	}
	if def.qubits, err = p.identList("{"); err != nil {
		return err
	}
	if len(def.qubits) == 0 {
		return p.errAt(name, "gate %q has no qubit arguments", name.text)
	}
	if err := p.expect("{"); err != nil {
		return err
	}
	known := func(s string) bool {
		for _, x := range def.params {
			if x == s {
				return true
			}
		}
		return false
	}
	for p.peek().text != "}" {
		if err := p.gateBodyStmt(def, known); err != nil {
			return err
		}
	}
	p.next()
	def.standard = sameAsLibrary(def, p.c.gates, p.lib)
	p.c.gates[def.name] = def
	return nil
}

func (p *parser) gateBodyStmt(def *gateDef, known func(string) bool) error {
	t := p.next()
	if t.kind != tokIdent {
		return p.errAt(t, "expected a gate call in the body of %q, found %s", def.name, t)
	}
	if t.text == "barrier" || t.text == "gphase" {
		for p.peek().text != ";" && p.peek().kind != tokEOF {
			p.next()
		}
		return p.expect(";")
	}
	if what, ok := unsupported[t.text]; ok {
		return p.errAt(t, "%s (%q) are not supported by the simulator", what, t.text)
	}
	np, nq, ok := p.signature(t.text, p.c.gates)
	if !ok {
		return p.errAt(t, "unknown gate %q", t.text)
	}
	args, err := p.callArgs(known)
	if err != nil {
		return err
	}
	if len(args) != np {
		return p.errAt(t, "gate %q takes %d parameters, got %d", t.text, np, len(args))
	}
	if err := p.spend(t); err != nil {
		return err
	}
	call := gateCall{name: t.text, args: args}
	for {
		q, err := p.ident()
		if err != nil {
			return err
		}
		idx := -1
		for i, name := range def.qubits {
			if name == q.text {
				idx = i
			}
		}
		if idx < 0 {
			return p.errAt(q, "%q is not a qubit argument of gate %q", q.text, def.name)
		}
		call.qubits = append(call.qubits, idx)
		if p.peek().text != "," {
			break
		}
		p.next()
	}
	if len(call.qubits) != nq {
		return p.errAt(t, "gate %q acts on %d qubits, got %d", t.text, nq, len(call.qubits))
	}
	if dup := duplicate(call.qubits); dup >= 0 {
		return p.errAt(t, "gate %q uses qubit %q more than once", t.text, def.qubits[dup])
	}
	def.body = append(def.body, call)
	return p.expect(";")
}
