// Package statevector is a dense state-vector simulator: gate application
// parallel over the machine's cores, measurement sampling, collapse and
// Pauli expectation values.
package statevector

import (
	"math"
	"math/bits"
	"runtime"
	"sync"

	"github.com/qgov/qgov/circuit"
)

// parallelFrom is the smallest register size (in qubits) whose gates are
// split across goroutines; below it the coordination costs more than it saves.
const parallelFrom = 14

// State is the state vector of n qubits; amplitude i belongs to the basis
// state whose bit q is qubit q's value.
type State struct {
	n   int
	amp []complex128
}

// New returns |0…0⟩ on n qubits.
func New(n int) *State {
	s := &State{n: n, amp: make([]complex128, 1<<n)}
	s.amp[0] = 1
	return s
}

// Amplitudes returns the state's amplitudes (not a copy).
func (s *State) Amplitudes() []complex128 { return s.amp }

// CopyFrom overwrites the state with src, which must have the same size.
func (s *State) CopyFrom(src *State) {
	parallel(len(s.amp), s.n, func(lo, hi int) { copy(s.amp[lo:hi], src.amp[lo:hi]) })
}

// parallel splits [0, total) into one contiguous chunk per core when the
// register is large enough, and runs fn on each.
func parallel(total, n int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < parallelFrom || workers == 1 || total < workers {
		fn(0, total)
		return
	}
	var wg sync.WaitGroup
	chunk := (total + workers - 1) / workers
	for lo := 0; lo < total; lo += chunk {
		hi := min(lo+chunk, total)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// pairIndex returns the index of the amplitude with qubit k = 0 for pair p.
func pairIndex(p, k int) int {
	return (p>>k)<<(k+1) | p&(1<<k-1)
}

// controlMask returns the bit mask of the control qubits.
func controlMask(controls []int) int {
	m := 0
	for _, c := range controls {
		m |= 1 << c
	}
	return m
}

// Apply applies the 2×2 matrix m to qubit target, controlled on every qubit
// in controls being |1⟩.
func (s *State) Apply(target int, m circuit.Matrix, controls []int) {
	a, k, cm := s.amp, target, controlMask(controls)
	stride := 1 << k
	m00, m01, m10, m11 := m[0], m[1], m[2], m[3]
	var kernel func(lo, hi int)
	switch {
	case cm != 0:
		kernel = func(lo, hi int) {
			for p := lo; p < hi; p++ {
				i := pairIndex(p, k)
				if i&cm != cm {
					continue
				}
				x, y := a[i], a[i+stride]
				a[i], a[i+stride] = m00*x+m01*y, m10*x+m11*y
			}
		}
	case m01 == 0 && m10 == 0 && m00 == 1:
		kernel = func(lo, hi int) {
			for p := lo; p < hi; p++ {
				a[pairIndex(p, k)+stride] *= m11
			}
		}
	case m01 == 0 && m10 == 0:
		kernel = func(lo, hi int) {
			for p := lo; p < hi; p++ {
				i := pairIndex(p, k)
				a[i] *= m00
				a[i+stride] *= m11
			}
		}
	case m00 == 0 && m11 == 0:
		kernel = func(lo, hi int) {
			for p := lo; p < hi; p++ {
				i := pairIndex(p, k)
				x, y := a[i], a[i+stride]
				a[i], a[i+stride] = m01*y, m10*x
			}
		}
	default:
		kernel = func(lo, hi int) {
			for p := lo; p < hi; p++ {
				i := pairIndex(p, k)
				x, y := a[i], a[i+stride]
				a[i], a[i+stride] = m00*x+m01*y, m10*x+m11*y
			}
		}
	}
	parallel(len(a)/2, s.n, kernel)
}

// Swap exchanges qubits q1 and q2, controlled on every qubit in controls.
func (s *State) Swap(q1, q2 int, controls []int) {
	a, cm := s.amp, controlMask(controls)
	b1, b2 := 1<<q1, 1<<q2
	parallel(len(a), s.n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			// Visit each pair once, from the member with q1=1 and q2=0.
			if i&b1 != 0 && i&b2 == 0 && i&cm == cm {
				j := i ^ b1 ^ b2
				a[i], a[j] = a[j], a[i]
			}
		}
	})
}

// sumRange adds f(i) over [0, total), in parallel for large registers.
func (s *State) sumRange(total int, f func(lo, hi int) float64) float64 {
	var mu sync.Mutex
	sum := 0.0
	parallel(total, s.n, func(lo, hi int) {
		v := f(lo, hi)
		mu.Lock()
		sum += v
		mu.Unlock()
	})
	return sum
}

// Prob1 returns the probability of measuring qubit q as 1.
func (s *State) Prob1(q int) float64 {
	a, b := s.amp, 1<<q
	return s.sumRange(len(a)/2, func(lo, hi int) float64 {
		v := 0.0
		for p := lo; p < hi; p++ {
			x := a[pairIndex(p, q)+b]
			v += real(x)*real(x) + imag(x)*imag(x)
		}
		return v
	})
}

// Collapse projects qubit q onto outcome (0 or 1) whose probability is prob,
// and renormalises.
func (s *State) Collapse(q, outcome int, prob float64) {
	a, b := s.amp, 1<<q
	scale := complex(1/math.Sqrt(prob), 0)
	parallel(len(a)/2, s.n, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			i := pairIndex(p, q)
			if outcome == 1 {
				a[i], a[i+b] = 0, a[i+b]*scale
			} else {
				a[i], a[i+b] = a[i]*scale, 0
			}
		}
	})
}

// Norm returns the squared norm of the state (1 up to rounding).
func (s *State) Norm() float64 {
	a := s.amp
	return s.sumRange(len(a), func(lo, hi int) float64 {
		v := 0.0
		for _, x := range a[lo:hi] {
			v += real(x)*real(x) + imag(x)*imag(x)
		}
		return v
	})
}

// ExpectPauli returns ⟨ψ|P|ψ⟩ for the Pauli operator whose X component is
// xmask, Z component zmask (Y sets both bits).
func (s *State) ExpectPauli(xmask, zmask uint64) float64 {
	a := s.amp
	ny := bits.OnesCount64(xmask & zmask)
	// Y = iXZ, so P|i⟩ = i^ny (-1)^{|i∧z|} |i⊕x⟩.
	phase := [4]complex128{1, 1i, -1, -1i}[ny%4]
	x, z := int(xmask), zmask
	v := s.sumRange(len(a), func(lo, hi int) float64 {
		var acc complex128
		for i := lo; i < hi; i++ {
			t := a[i^x]
			term := complex(real(t), -imag(t)) * a[i]
			if bits.OnesCount64(uint64(i)&z)&1 == 1 {
				acc -= term
			} else {
				acc += term
			}
		}
		return real(phase * acc)
	})
	return v
}
