package statevector

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/qgov/qgov/circuit"
)

// memoryBandwidth measures this machine's copy bandwidth (bytes read plus
// bytes written per second) with the same parallel split the simulator uses,
// over buffers far larger than the caches. It is measured once per run.
var memoryBandwidth = sync.OnceValue(func() float64 {
	const size = 1 << 28 // 256 MiB per buffer
	src, dst := make([]byte, size), make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	copy(dst, src)
	best := math.Inf(1)
	for rep := 0; rep < 5; rep++ {
		start := time.Now()
		parallel(size, parallelFrom, func(lo, hi int) { copy(dst[lo:hi], src[lo:hi]) })
		best = min(best, time.Since(start).Seconds())
	}
	return 2 * size / best
})

// BenchmarkSingleQubitGate applies a Hadamard (a dense 2×2 gate) to the
// middle qubit of an n-qubit state and reports the memory traffic as a
// fraction of the machine's measured bandwidth (bw-ratio).
func BenchmarkSingleQubitGate(b *testing.B) {
	bw := memoryBandwidth()
	h := circuit.Matrix{math.Sqrt2 / 2, math.Sqrt2 / 2, math.Sqrt2 / 2, -math.Sqrt2 / 2}
	for n := 20; n <= 26; n++ {
		b.Run(fmt.Sprintf("qubits=%d", n), func(b *testing.B) {
			s := New(n)
			s.Apply(n/2, h, nil)        // fault the pages in before timing
			bytes := int64(2 * 16 << n) // every amplitude read and written once
			b.SetBytes(bytes)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Apply(n/2, h, nil)
			}
			perSecond := float64(bytes) * float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(perSecond/bw, "bw-ratio")
			b.ReportMetric(bw/1e9, "mem-GB/s")
		})
	}
}

// BenchmarkControlledGate applies a CX across the middle of an n-qubit state.
func BenchmarkControlledGate(b *testing.B) {
	x := circuit.Matrix{0, 1, 1, 0}
	for _, n := range []int{20, 24} {
		b.Run(fmt.Sprintf("qubits=%d", n), func(b *testing.B) {
			s := New(n)
			b.SetBytes(int64(16 << n))
			for i := 0; i < b.N; i++ {
				s.Apply(n/2, x, []int{n/2 - 1})
			}
		})
	}
}

// BenchmarkSample draws 4096 shots from a 20-qubit state.
func BenchmarkSample(b *testing.B) {
	p := program(b, qft(20, 12345), nil)
	s, err := p.Final(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Sample(4096, randFor(uint64(i)))
	}
}

func randFor(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }
