package circuit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Expr is a classical real-valued expression: a gate angle or a delay
// duration. It may refer to the circuit's input parameters or, inside a gate
// definition, to the gate's own parameters.
type Expr interface {
	// Eval evaluates the expression with the given variable values.
	Eval(vars map[string]float64) (float64, error)
	// String renders the expression in OpenQASM syntax.
	String() string
}

type numExpr float64

func (n numExpr) Eval(map[string]float64) (float64, error) { return float64(n), nil }
func (n numExpr) String() string                           { return strconv.FormatFloat(float64(n), 'g', -1, 64) }

type varExpr string

func (v varExpr) Eval(vars map[string]float64) (float64, error) {
	x, ok := vars[string(v)]
	if !ok {
		return 0, fmt.Errorf("parameter %q has no value", string(v))
	}
	return x, nil
}
func (v varExpr) String() string { return string(v) }

type negExpr struct{ x Expr }

func (n negExpr) Eval(vars map[string]float64) (float64, error) {
	x, err := n.x.Eval(vars)
	return -x, err
}
func (n negExpr) String() string { return "-(" + n.x.String() + ")" }

type binExpr struct {
	op   string
	x, y Expr
}

func (b binExpr) Eval(vars map[string]float64) (float64, error) {
	x, err := b.x.Eval(vars)
	if err != nil {
		return 0, err
	}
	y, err := b.y.Eval(vars)
	if err != nil {
		return 0, err
	}
	switch b.op {
	case "+":
		return x + y, nil
	case "-":
		return x - y, nil
	case "*":
		return x * y, nil
	case "/":
		if y == 0 {
			return 0, fmt.Errorf("division by zero in %s", b.String())
		}
		return x / y, nil
	default: // "**" and "^"
		return math.Pow(x, y), nil
	}
}
func (b binExpr) String() string { return "(" + b.x.String() + b.op + b.y.String() + ")" }

type callExpr struct {
	fn  string
	f   func(float64) float64
	arg Expr
}

// mathFuncs are the OpenQASM 3 built-in real functions.
var mathFuncs = map[string]func(float64) float64{
	"sin": math.Sin, "cos": math.Cos, "tan": math.Tan,
	"arcsin": math.Asin, "arccos": math.Acos, "arctan": math.Atan,
	"exp": math.Exp, "ln": math.Log, "sqrt": math.Sqrt,
}

func (c callExpr) Eval(vars map[string]float64) (float64, error) {
	x, err := c.arg.Eval(vars)
	if err != nil {
		return 0, err
	}
	return c.f(x), nil
}
func (c callExpr) String() string { return c.fn + "(" + c.arg.String() + ")" }

// constants are the OpenQASM built-in real constants.
var constants = map[string]float64{
	"pi": math.Pi, "π": math.Pi, "tau": 2 * math.Pi, "τ": 2 * math.Pi,
	"euler": math.E, "ℇ": math.E,
}

// parseExpr parses an expression with the usual precedence:
// additive < multiplicative < unary minus < power (right-associative).
// known reports whether an identifier names a variable in scope.
func (p *parser) parseExpr(known func(string) bool) (Expr, error) {
	if p.exprDepth == 0 {
		p.exprTerms = 0 // a new expression
	}
	p.exprDepth++
	defer func() { p.exprDepth-- }()
	if p.exprDepth > maxExprDepth {
		return nil, p.errAt(p.peek(), "expression nested deeper than %d", maxExprDepth)
	}
	return p.parseLeftAssoc(known, "+", "-", p.parseTerm)
}

func (p *parser) parseTerm(known func(string) bool) (Expr, error) {
	return p.parseLeftAssoc(known, "*", "/", p.parseUnary)
}

// parseLeftAssoc parses operands joined left-associatively by op1 or op2.
func (p *parser) parseLeftAssoc(known func(string) bool, op1, op2 string, operand func(func(string) bool) (Expr, error)) (Expr, error) {
	x, err := operand(known)
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t.kind == tokSymbol && (t.text == op1 || t.text == op2); t = p.peek() {
		p.next()
		y, err := operand(known)
		if err != nil {
			return nil, err
		}
		x = binExpr{t.text, x, y}
	}
	return x, nil
}

func (p *parser) parseUnary(known func(string) bool) (Expr, error) {
	p.exprDepth++
	defer func() { p.exprDepth-- }()
	if p.exprDepth > maxExprDepth {
		return nil, p.errAt(p.peek(), "expression nested deeper than %d", maxExprDepth)
	}
	if p.exprTerms++; p.exprTerms > maxExprTerms {
		return nil, p.errAt(p.peek(), "expression of more than %d terms", maxExprTerms)
	}
	switch p.peek().text {
	case "-":
		p.next()
		x, err := p.parseUnary(known)
		if err != nil {
			return nil, err
		}
		if n, ok := x.(numExpr); ok {
			return -n, nil
		}
		return negExpr{x}, nil
	case "+":
		p.next()
		return p.parseUnary(known)
	}
	return p.parsePower(known)
}

func (p *parser) parsePower(known func(string) bool) (Expr, error) {
	x, err := p.parseAtom(known)
	if err != nil {
		return nil, err
	}
	if p.peek().text == "**" || p.peek().text == "^" {
		op := p.next().text
		y, err := p.parseUnary(known)
		if err != nil {
			return nil, err
		}
		return binExpr{op, x, y}, nil
	}
	return x, nil
}

func (p *parser) parseAtom(known func(string) bool) (Expr, error) {
	t := p.next()
	switch t.kind {
	case tokNumber:
		v, err := strconv.ParseFloat(strings.ReplaceAll(t.text, "_", ""), 64)
		if err != nil {
			return nil, p.errAt(t, "invalid number %s", t)
		}
		return numExpr(v), nil
	case tokIdent:
		if v, ok := constants[t.text]; ok {
			return numExpr(v), nil
		}
		if f, ok := mathFuncs[t.text]; ok {
			if err := p.expect("("); err != nil {
				return nil, err
			}
			arg, err := p.parseExpr(known)
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return callExpr{t.text, f, arg}, nil
		}
		if known(t.text) {
			return varExpr(t.text), nil
		}
		return nil, p.errAt(t, "undefined identifier %s in expression", t)
	case tokSymbol:
		if t.text == "(" {
			x, err := p.parseExpr(known)
			if err != nil {
				return nil, err
			}
			return x, p.expect(")")
		}
	}
	return nil, p.errAt(t, "expected an expression, found %s", t)
}

// positional renders an expression with the named parameters written by
// their position ("$0"), so that expressions that differ only in the
// names of a definition's parameters render alike.
func positional(e Expr, params []string) string {
	switch e := e.(type) {
	case varExpr:
		for i, p := range params {
			if p == string(e) {
				return "$" + strconv.Itoa(i)
			}
		}
	case negExpr:
		return "-(" + positional(e.x, params) + ")"
	case binExpr:
		return "(" + positional(e.x, params) + e.op + positional(e.y, params) + ")"
	case callExpr:
		return e.fn + "(" + positional(e.arg, params) + ")"
	}
	return e.String()
}
