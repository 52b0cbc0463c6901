package statevector

import (
	"math/rand/v2"
	"slices"
)

// Sample draws shots basis-state indices from the state's distribution in
// one pass over the amplitudes: sorted uniform draws are matched against the
// running cumulative probability, then shuffled back into random order.
func (s *State) Sample(shots int, rng *rand.Rand) []int {
	total := s.Norm()
	draws := make([]float64, shots)
	for i := range draws {
		draws[i] = rng.Float64() * total
	}
	slices.Sort(draws)
	out := make([]int, shots)
	cum, k := 0.0, 0
	last := 0
	for i, x := range s.amp {
		p := real(x)*real(x) + imag(x)*imag(x)
		if p == 0 {
			continue
		}
		last = i
		cum += p
		for k < shots && draws[k] < cum {
			out[k] = i
			k++
		}
		if k == shots {
			break
		}
	}
	// Rounding can leave the largest draws just above the final sum.
	for ; k < shots; k++ {
		out[k] = last
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
