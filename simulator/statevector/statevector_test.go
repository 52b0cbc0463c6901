package statevector

import (
	"context"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/circuit"
)

// program parses and lowers src with the given parameter values.
func program(t testing.TB, src string, values map[string]float64) *Program {
	t.Helper()
	c, err := circuit.Parse(src)
	require.NoError(t, err)
	instrs, err := c.Lower(values)
	require.NoError(t, err)
	p, err := NewProgram(instrs, 26)
	require.NoError(t, err)
	return p
}

func final(t testing.TB, src string, values map[string]float64) *State {
	t.Helper()
	s, err := program(t, src, values).Final(context.Background())
	require.NoError(t, err)
	return s
}

func assertAmplitudes(t *testing.T, want []complex128, s *State) {
	t.Helper()
	require.Len(t, s.Amplitudes(), len(want))
	for i, w := range want {
		assert.InDelta(t, 0, cmplx.Abs(s.Amplitudes()[i]-w), 1e-12, "amplitude %d: got %v want %v", i, s.Amplitudes()[i], w)
	}
}

func TestAnalyticStates(t *testing.T) {
	r := complex(1/math.Sqrt2, 0)
	ghz := make([]complex128, 32)
	ghz[0], ghz[31] = r, r
	for _, tc := range []struct {
		name string
		src  string
		want []complex128
	}{
		{"bell", "OPENQASM 3.0;\nh $0;\ncx $0, $1;", []complex128{r, 0, 0, r}},
		{"ghz5", "OPENQASM 3.0;\nh $0;\ncx $0, $1;\ncx $1, $2;\ncx $2, $3;\ncx $3, $4;", ghz},
		{"x on second qubit", "OPENQASM 3.0;\nz $0;\nx $1;", []complex128{0, 0, 1, 0}},
		{"swap", "OPENQASM 3.0;\nx $0;\nswap $0, $1;", []complex128{0, 0, 1, 0}},
		{"toffoli fires", "OPENQASM 3.0;\nx $0;\nx $1;\nccx $0, $1, $2;", func() []complex128 { w := make([]complex128, 8); w[7] = 1; return w }()},
		{"cswap", "OPENQASM 3.0;\nx $0;\nx $1;\ncswap $0, $1, $2;", func() []complex128 { w := make([]complex128, 8); w[5] = 1; return w }()},
		{"sx squared is x", "OPENQASM 3.0;\nsx $0;\nsx $0;", []complex128{0, 1}},
		{"ecr from library", "OPENQASM 3.0;\necr $0, $1;", []complex128{0, r, 0, complex(0, -1/math.Sqrt2)}}, // Qiskit's ECR matrix, first column
		{"u equals h", "OPENQASM 3.0;\nU(pi/2, 0, pi) $0;", []complex128{r, r}},
		{"cp phase", "OPENQASM 3.0;\nx $0;\nx $1;\ncp(pi/3) $0, $1;", []complex128{0, 0, 0, cmplx.Exp(complex(0, math.Pi/3))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertAmplitudes(t, tc.want, final(t, tc.src, nil))
		})
	}
}

// qft returns an OpenQASM QFT on n qubits preceded by X gates preparing x.
func qft(n, x int) string {
	var b strings.Builder
	b.WriteString("OPENQASM 3.0;\ninclude \"stdgates.inc\";\n")
	for q := 0; q < n; q++ {
		if x>>q&1 == 1 {
			fmt.Fprintf(&b, "x $%d;\n", q)
		}
	}
	for j := n - 1; j >= 0; j-- {
		fmt.Fprintf(&b, "h $%d;\n", j)
		for k := j - 1; k >= 0; k-- {
			fmt.Fprintf(&b, "cp(pi/%d) $%d, $%d;\n", 1<<(j-k), k, j)
		}
	}
	for q := 0; q < n/2; q++ {
		fmt.Fprintf(&b, "swap $%d, $%d;\n", q, n-1-q)
	}
	return b.String()
}

func TestQFT(t *testing.T) {
	const n, x = 5, 11
	N := 1 << n
	want := make([]complex128, N)
	for k := range want {
		want[k] = cmplx.Exp(complex(0, 2*math.Pi*float64(x*k)/float64(N))) / complex(math.Sqrt(float64(N)), 0)
	}
	assertAmplitudes(t, want, final(t, qft(n, x), nil))
}

func TestParameterisedRotations(t *testing.T) {
	src := "OPENQASM 3.0;\ninput float[64] theta;\ninput float[64] phi;\nry(theta) $0;\nrz(phi) $0;"
	for _, theta := range []float64{0, 0.3, math.Pi / 2, 2.5, math.Pi} {
		s := final(t, src, map[string]float64{"theta": theta, "phi": 0.7})
		assert.InDelta(t, math.Pow(math.Sin(theta/2), 2), s.Prob1(0), 1e-12, "P(1) at theta=%v", theta)
		assert.InDelta(t, math.Cos(theta), s.ExpectPauli(0, 1), 1e-12, "<Z> at theta=%v", theta)
		assert.InDelta(t, math.Sin(theta)*math.Cos(0.7), s.ExpectPauli(1, 0), 1e-12, "<X> at theta=%v", theta)
		assert.InDelta(t, math.Sin(theta)*math.Sin(0.7), s.ExpectPauli(1, 1), 1e-12, "<Y> at theta=%v", theta)
	}
}

func TestBellExpectations(t *testing.T) {
	s := final(t, "OPENQASM 3.0;\nh $0;\ncx $0, $1;", nil)
	for _, tc := range []struct {
		pauli  string
		x, z   uint64
		expect float64
	}{
		{"ZZ", 0, 3, 1}, {"XX", 3, 0, 1}, {"YY", 3, 3, -1}, {"ZI", 0, 2, 0}, {"IZ", 0, 1, 0}, {"XY", 3, 1, 0},
	} {
		assert.InDelta(t, tc.expect, s.ExpectPauli(tc.x, tc.z), 1e-12, tc.pauli)
	}
}

func counts(shots Shots, n, clbits int) map[string]int {
	out := map[string]int{}
	for i := 0; i < n; i++ {
		var b strings.Builder
		for c := clbits - 1; c >= 0; c-- {
			if shots.Bit(i, c) {
				b.WriteByte('1')
			} else {
				b.WriteByte('0')
			}
		}
		out[b.String()]++
	}
	return out
}

func TestSampling(t *testing.T) {
	const shots = 4000
	for _, tc := range []struct {
		name   string
		src    string
		clbits int
		want   map[string]float64 // outcome → probability
	}{
		{"bell", "OPENQASM 3.0;\nbit[2] c;\nh $0;\ncx $0, $1;\nc[0] = measure $0;\nc[1] = measure $1;", 2,
			map[string]float64{"00": 0.5, "11": 0.5}},
		{"ry third", "OPENQASM 3.0;\nbit[1] c;\nry(2*pi/3) $4;\nc[0] = measure $4;", 1,
			map[string]float64{"0": 0.25, "1": 0.75}},
		{"bits swapped into other clbits", "OPENQASM 3.0;\nbit[3] c;\nx $0;\nc[2] = measure $0;\nc[0] = measure $1;", 3,
			map[string]float64{"100": 1}},
		{"mid-circuit measurement feeds a later gate", "OPENQASM 3.0;\nbit[2] c;\nh $0;\nc[0] = measure $0;\ncx $0, $1;\nc[1] = measure $1;", 2,
			map[string]float64{"00": 0.5, "11": 0.5}},
		{"reset after use", "OPENQASM 3.0;\nbit[2] c;\nh $0;\nc[0] = measure $0;\nreset $0;\nx $0;\nc[1] = measure $0;", 2,
			map[string]float64{"10": 0.5, "11": 0.5}},
		{"last write to a clbit wins", "OPENQASM 3.0;\nbit[1] c;\nx $0;\nc[0] = measure $0;\nc[0] = measure $1;", 1,
			map[string]float64{"0": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := program(t, tc.src, nil)
			res, err := p.Sample(context.Background(), tc.clbits, shots, rand.New(rand.NewPCG(1, 2)))
			require.NoError(t, err)
			got := counts(res, shots, tc.clbits)
			for outcome, n := range got {
				assert.Contains(t, tc.want, outcome, "impossible outcome %s", outcome)
				// 5 standard deviations of a binomial count.
				prob := tc.want[outcome]
				assert.InDelta(t, prob*shots, float64(n), 5*math.Sqrt(shots*prob*(1-prob))+1e-9, "count of %s", outcome)
			}
		})
	}
}

func TestSamplingIsSeedable(t *testing.T) {
	p := program(t, "OPENQASM 3.0;\nbit[3] c;\nh $0;\nh $1;\nh $2;\nc[0] = measure $0;\nc[1] = measure $1;\nc[2] = measure $2;", nil)
	run := func(seed uint64) []uint64 {
		res, err := p.Sample(context.Background(), 3, 100, rand.New(rand.NewPCG(seed, seed)))
		require.NoError(t, err)
		return res.Bits
	}
	assert.Equal(t, run(7), run(7))
	assert.NotEqual(t, run(7), run(8))
}

func TestActiveQubitsOnly(t *testing.T) {
	p := program(t, "OPENQASM 3.0;\nbit[2] c;\nh $126;\ncx $126, $3;\nc[0] = measure $3;\nc[1] = measure $126;", nil)
	assert.Equal(t, 2, p.NumQubits())
	c, err := circuit.Parse("OPENQASM 3.0;\nh $0;\nh $1;\nh $2;")
	require.NoError(t, err)
	instrs, err := c.Lower(nil)
	require.NoError(t, err)
	_, err = NewProgram(instrs, 2)
	require.ErrorIs(t, err, ErrTooManyQubits)
}

func TestCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := program(t, "OPENQASM 3.0;\nbit c;\nh $0;\nc = measure $0;\nreset $0;", nil)
	_, err := p.Sample(ctx, 1, 10, rand.New(rand.NewPCG(1, 1)))
	require.ErrorIs(t, err, context.Canceled)
}

// TestParallelMatchesSerial runs a random circuit large enough to be split
// across goroutines and compares it with a single-threaded run.
func TestParallelMatchesSerial(t *testing.T) {
	const n = parallelFrom + 2
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.WriteString("OPENQASM 3.0;\n")
	gates := []string{"h", "sx", "t", "x", "rz(0.3)", "ry(1.1)"}
	for i := 0; i < 200; i++ {
		q := rng.IntN(n)
		if i%3 == 0 {
			q2 := (q + 1 + rng.IntN(n-1)) % n
			fmt.Fprintf(&b, "%s $%d, $%d;\n", []string{"cx", "cz", "swap", "crx(0.7)"}[rng.IntN(4)], q, q2)
		} else {
			fmt.Fprintf(&b, "%s $%d;\n", gates[rng.IntN(len(gates))], q)
		}
	}
	src := b.String()
	par := final(t, src, nil)
	prev := runtime.GOMAXPROCS(1)
	ser := final(t, src, nil)
	runtime.GOMAXPROCS(prev)
	require.Equal(t, len(ser.Amplitudes()), len(par.Amplitudes()))
	for i := range ser.Amplitudes() {
		require.InDelta(t, 0, cmplx.Abs(ser.Amplitudes()[i]-par.Amplitudes()[i]), 1e-12, "amplitude %d", i)
	}
	assert.InDelta(t, 1, par.Norm(), 1e-9)
	assert.InDelta(t, ser.ExpectPauli(5, 9), par.ExpectPauli(5, 9), 1e-9)
}

// TestFeedForward runs classically conditioned instructions shot by
// shot: each runs when its condition holds for the bits measured so far
// in that shot, an else branch when it does not, and a conditional
// measurement that does not run leaves the bit an earlier one wrote.
func TestFeedForward(t *testing.T) {
	const shots = 2000
	x := circuit.Matrix{0, 1, 1, 0}
	on := func(bit int, v uint64, els bool) []circuit.Condition {
		return []circuit.Condition{{Bits: []int{bit}, Value: v, Else: els}}
	}
	for _, tc := range []struct {
		name  string
		extra []circuit.Instr
		want  map[string]float64
	}{
		{"x on q1 when c0 is 1: c1 copies c0", []circuit.Instr{
			{Kind: circuit.InstrUnitary, Matrix: x, Target: 1, Conds: on(0, 1, false)},
			{Kind: circuit.InstrMeasure, Target: 1, Clbit: 1},
		}, map[string]float64{"00": 0.5, "11": 0.5}},
		{"else branch: x on q1 when c0 is not 1", []circuit.Instr{
			{Kind: circuit.InstrUnitary, Matrix: x, Target: 1, Conds: on(0, 1, true)},
			{Kind: circuit.InstrMeasure, Target: 1, Clbit: 1},
		}, map[string]float64{"10": 0.5, "01": 0.5}},
		{"reset by feed-forward: x on q0 when c0 is 1, measured again into c0", []circuit.Instr{
			{Kind: circuit.InstrUnitary, Matrix: x, Target: 0, Conds: on(0, 1, false)},
			{Kind: circuit.InstrMeasure, Target: 0, Clbit: 0},
		}, map[string]float64{"00": 1}},
		{"a conditional measurement that does not run keeps the bit", []circuit.Instr{
			{Kind: circuit.InstrUnitary, Matrix: x, Target: 1},
			{Kind: circuit.InstrMeasure, Target: 1, Clbit: 0, Conds: on(0, 1, false)},
		}, map[string]float64{"00": 0.5, "01": 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := circuit.Parse("OPENQASM 3.0;\nbit[2] c;\nh $0;\nc[0] = measure $0;\nid $1;")
			require.NoError(t, err)
			instrs, err := c.Lower(nil)
			require.NoError(t, err)
			p, err := NewProgram(append(instrs, tc.extra...), 26)
			require.NoError(t, err)
			res, err := p.Sample(context.Background(), 2, shots, rand.New(rand.NewPCG(3, 4)))
			require.NoError(t, err)
			got := counts(res, shots, 2)
			for outcome, n := range got {
				require.Contains(t, tc.want, outcome, "impossible outcome %s", outcome)
				prob := tc.want[outcome]
				assert.InDelta(t, prob*shots, float64(n), 5*math.Sqrt(shots*prob*(1-prob))+1e-9, "count of %s", outcome)
			}
		})
	}
}

// TestMultiControlledLibraryGates runs the multi-controlled gates of
// Qiskit's standard library a QPY circuit may name: each flips (or, the
// relative-phase Toffolis, flips up to a phase) its target only when every
// control is 1.
func TestMultiControlledLibraryGates(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[3];\ncreg c[3];\nx q[0];\nx q[1];\nrccx q[0], q[1], q[2];\nmeasure q -> c;", "111"},
		{"OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[3];\ncreg c[3];\nx q[0];\nrccx q[0], q[1], q[2];\nmeasure q -> c;", "001"},
		{"OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[4];\ncreg c[4];\nx q[0];\nx q[1];\nx q[2];\nrcccx q[0], q[1], q[2], q[3];\nmeasure q -> c;", "1111"},
		{"OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[5];\ncreg c[5];\nx q[0];\nx q[1];\nx q[2];\nx q[3];\nc4x q[0], q[1], q[2], q[3], q[4];\nmeasure q -> c;", "11111"},
	} {
		p := program(t, tc.src, nil)
		n := len(tc.want)
		res, err := p.Sample(context.Background(), n, 50, rand.New(rand.NewPCG(5, 6)))
		require.NoError(t, err)
		assert.Equal(t, map[string]int{tc.want: 50}, counts(res, 50, n), tc.src)
	}
}
