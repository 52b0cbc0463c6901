package circuit

import (
	"math"
	"math/cmplx"
)

// Matrix is a 2×2 complex matrix in row-major order: [m00, m01, m10, m11].
type Matrix [4]complex128

// stdGate is a gate the simulator applies natively: a 2×2 matrix on the last
// qubit controlled by the leading ones, or a (controlled) swap of the last two.
type stdGate struct {
	params   int
	qubits   int
	controls int
	swap     bool
	matrix   func(p []float64) Matrix
}

func fixed(m Matrix) func([]float64) Matrix { return func([]float64) Matrix { return m } }

// U returns the matrix of OpenQASM's U(θ, φ, λ).
func U(theta, phi, lambda float64) Matrix {
	c, s := complex(math.Cos(theta/2), 0), complex(math.Sin(theta/2), 0)
	return Matrix{
		c, -cmplx.Exp(complex(0, lambda)) * s,
		cmplx.Exp(complex(0, phi)) * s, cmplx.Exp(complex(0, phi+lambda)) * c,
	}
}

func phase(l float64) Matrix { return Matrix{1, 0, 0, cmplx.Exp(complex(0, l))} }

func rx(t float64) Matrix {
	c, s := complex(math.Cos(t/2), 0), complex(0, -math.Sin(t/2))
	return Matrix{c, s, s, c}
}

func ry(t float64) Matrix {
	c, s := complex(math.Cos(t/2), 0), complex(math.Sin(t/2), 0)
	return Matrix{c, -s, s, c}
}

func rz(t float64) Matrix {
	return Matrix{cmplx.Exp(complex(0, -t/2)), 0, 0, cmplx.Exp(complex(0, t/2))}
}

var (
	matX    = Matrix{0, 1, 1, 0}
	matY    = Matrix{0, -1i, 1i, 0}
	matZ    = Matrix{1, 0, 0, -1}
	matH    = Matrix{math.Sqrt2 / 2, math.Sqrt2 / 2, math.Sqrt2 / 2, -math.Sqrt2 / 2}
	matSX   = Matrix{0.5 + 0.5i, 0.5 - 0.5i, 0.5 - 0.5i, 0.5 + 0.5i}
	matSXdg = Matrix{0.5 - 0.5i, 0.5 + 0.5i, 0.5 + 0.5i, 0.5 - 0.5i}
)

func p1(f func(float64) Matrix) func([]float64) Matrix {
	return func(p []float64) Matrix { return f(p[0]) }
}

func u3(p []float64) Matrix { return U(p[0], p[1], p[2]) }

// stdGates are the gates of stdgates.inc and qelib1.inc that map directly to
// a (controlled) single-qubit matrix or a (controlled) swap.
var stdGates = map[string]stdGate{
	"U":     {params: 3, qubits: 1, matrix: u3},
	"u":     {params: 3, qubits: 1, matrix: u3},
	"u3":    {params: 3, qubits: 1, matrix: u3},
	"u2":    {params: 2, qubits: 1, matrix: func(p []float64) Matrix { return U(math.Pi/2, p[0], p[1]) }},
	"u1":    {params: 1, qubits: 1, matrix: p1(phase)},
	"p":     {params: 1, qubits: 1, matrix: p1(phase)},
	"phase": {params: 1, qubits: 1, matrix: p1(phase)},
	"id":    {qubits: 1, matrix: fixed(Matrix{1, 0, 0, 1})},
	"i":     {qubits: 1, matrix: fixed(Matrix{1, 0, 0, 1})},
	"u0":    {params: 1, qubits: 1, matrix: fixed(Matrix{1, 0, 0, 1})},
	"x":     {qubits: 1, matrix: fixed(matX)},
	"y":     {qubits: 1, matrix: fixed(matY)},
	"z":     {qubits: 1, matrix: fixed(matZ)},
	"h":     {qubits: 1, matrix: fixed(matH)},
	"s":     {qubits: 1, matrix: fixed(phase(math.Pi / 2))},
	"sdg":   {qubits: 1, matrix: fixed(phase(-math.Pi / 2))},
	"t":     {qubits: 1, matrix: fixed(phase(math.Pi / 4))},
	"tdg":   {qubits: 1, matrix: fixed(phase(-math.Pi / 4))},
	"sx":    {qubits: 1, matrix: fixed(matSX)},
	"sxdg":  {qubits: 1, matrix: fixed(matSXdg)},
	"rx":    {params: 1, qubits: 1, matrix: p1(rx)},
	"ry":    {params: 1, qubits: 1, matrix: p1(ry)},
	"rz":    {params: 1, qubits: 1, matrix: p1(rz)},
	"r": {params: 2, qubits: 1, matrix: func(p []float64) Matrix {
		return U(p[0], p[1]-math.Pi/2, -p[1]+math.Pi/2)
	}},

	"CX":     {qubits: 2, controls: 1, matrix: fixed(matX)},
	"cx":     {qubits: 2, controls: 1, matrix: fixed(matX)},
	"cnot":   {qubits: 2, controls: 1, matrix: fixed(matX)},
	"cy":     {qubits: 2, controls: 1, matrix: fixed(matY)},
	"cz":     {qubits: 2, controls: 1, matrix: fixed(matZ)},
	"ch":     {qubits: 2, controls: 1, matrix: fixed(matH)},
	"cs":     {qubits: 2, controls: 1, matrix: fixed(phase(math.Pi / 2))},
	"csdg":   {qubits: 2, controls: 1, matrix: fixed(phase(-math.Pi / 2))},
	"csx":    {qubits: 2, controls: 1, matrix: fixed(matSX)},
	"cp":     {params: 1, qubits: 2, controls: 1, matrix: p1(phase)},
	"cphase": {params: 1, qubits: 2, controls: 1, matrix: p1(phase)},
	"cu1":    {params: 1, qubits: 2, controls: 1, matrix: p1(phase)},
	"crx":    {params: 1, qubits: 2, controls: 1, matrix: p1(rx)},
	"cry":    {params: 1, qubits: 2, controls: 1, matrix: p1(ry)},
	"crz":    {params: 1, qubits: 2, controls: 1, matrix: p1(rz)},
	"cu3":    {params: 3, qubits: 2, controls: 1, matrix: u3},
	"cu": {params: 4, qubits: 2, controls: 1, matrix: func(p []float64) Matrix {
		m, g := U(p[0], p[1], p[2]), cmplx.Exp(complex(0, p[3]))
		return Matrix{g * m[0], g * m[1], g * m[2], g * m[3]}
	}},
	"swap":    {qubits: 2, swap: true},
	"ccx":     {qubits: 3, controls: 2, matrix: fixed(matX)},
	"toffoli": {qubits: 3, controls: 2, matrix: fixed(matX)},
	"ccz":     {qubits: 3, controls: 2, matrix: fixed(matZ)},
	"cswap":   {qubits: 3, controls: 1, swap: true},
	"fredkin": {qubits: 3, controls: 1, swap: true},
	"c3x":     {qubits: 4, controls: 3, matrix: fixed(matX)},
	"c3sx":    {qubits: 4, controls: 3, matrix: fixed(matSX)},
	"c4x":     {qubits: 5, controls: 4, matrix: fixed(matX)},
}

// libraryGates defines, in OpenQASM, the standard gates that are not applied
// natively; a circuit's own definition of the same name takes precedence.
const libraryGates = `
gate rzz(theta) a, b { cx a, b; rz(theta) b; cx a, b; }
gate rxx(theta) a, b { h a; h b; cx a, b; rz(theta) b; cx a, b; h a; h b; }
gate ryy(theta) a, b { rx(pi/2) a; rx(pi/2) b; cx a, b; rz(theta) b; cx a, b; rx(-pi/2) a; rx(-pi/2) b; }
gate rzx(theta) a, b { h b; cx a, b; rz(theta) b; cx a, b; h b; }
gate ecr a, b { rzx(pi/4) a, b; x a; rzx(-pi/4) a, b; }
gate iswap a, b { s a; s b; h a; cx a, b; cx b, a; h b; }
gate dcx a, b { cx a, b; cx b, a; }
gate rccx a, b, c { u2(0, pi) c; u1(pi/4) c; cx b, c; u1(-pi/4) c; cx a, c; u1(pi/4) c; cx b, c; u1(-pi/4) c; u2(0, pi) c; }
gate rcccx a, b, c, d { u2(0, pi) d; u1(pi/4) d; cx c, d; u1(-pi/4) d; u2(0, pi) d; cx a, d; u1(pi/4) d; cx b, d; u1(-pi/4) d; cx a, d; u1(pi/4) d; cx b, d; u1(-pi/4) d; u2(0, pi) d; u1(pi/4) d; cx c, d; u1(-pi/4) d; u2(0, pi) d; }
gate xx_minus_yy(theta, beta) a, b { rz(-beta) b; rz(-pi/2) a; sx a; rz(pi/2) a; s b; cx a, b; ry(theta/2) a; ry(-theta/2) b; cx a, b; sdg b; rz(-pi/2) a; sxdg a; rz(pi/2) a; rz(beta) b; }
gate xx_plus_yy(theta, beta) a, b { rz(beta) b; rz(-pi/2) a; sx a; rz(pi/2) a; s b; cx a, b; ry(theta/2) a; ry(theta/2) b; cx a, b; sdg b; rz(-pi/2) a; sxdg a; rz(pi/2) a; rz(-beta) b; }
`

// library holds the parsed libraryGates.
var library = func() map[string]*gateDef {
	c, err := Reader{Budget: NewBudget(DefaultLimits), KeepOps: true}.read(libraryGates, nil)
	if err != nil {
		panic("circuit: built-in gate library: " + err.Error())
	}
	return c.gates
}()
