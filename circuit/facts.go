package circuit

import "sort"

// Facts summarises a circuit for admission decisions and simulation: the
// gateway's limits on qubits and depth read them, and the simulator sizes its
// state vector by the active qubits.
type Facts struct {
	// NumQubits is the width of the circuit's qubit index space.
	NumQubits int `json:"num_qubits"`
	// ActiveQubits are the qubits touched by a gate, measurement or reset,
	// in increasing order. Barriers and delays do not make a qubit active.
	ActiveQubits []int `json:"active_qubits"`
	// NumClbits is the number of classical bits.
	NumClbits int `json:"num_clbits"`
	// Depth is the length of the critical path over qubit and classical-bit
	// wires, barriers excluded (as Qiskit's QuantumCircuit.depth()).
	Depth int `json:"depth"`
	// TwoQubitGates counts gates acting on exactly two qubits.
	TwoQubitGates int `json:"two_qubit_gates"`
	// MultiQubitGates counts gates acting on three or more qubits.
	MultiQubitGates int `json:"multi_qubit_gates"`
	// Measurements counts measurement operations.
	Measurements int `json:"measurements"`
	// Ops counts operations by name, as Qiskit's count_ops().
	Ops map[string]int `json:"ops"`
	// NumParameters is the number of free input parameters.
	NumParameters int `json:"num_parameters"`
}

// Facts computes the circuit's facts.
func (c *Circuit) Facts() Facts {
	f := Facts{
		NumQubits:     c.NumQubits,
		NumClbits:     c.NumClbits,
		Ops:           map[string]int{},
		NumParameters: len(c.Parameters),
	}
	active := map[int]bool{}
	qlevel := map[int]int{}
	clevel := map[int]int{}
	for _, op := range c.Ops {
		f.Ops[op.Name]++
		if op.Kind == OpBarrier {
			continue
		}
		level := 0
		for _, q := range op.Qubits {
			level = max(level, qlevel[q])
		}
		if op.Clbit >= 0 {
			level = max(level, clevel[op.Clbit])
		}
		level++
		for _, q := range op.Qubits {
			qlevel[q] = level
		}
		if op.Clbit >= 0 {
			clevel[op.Clbit] = level
		}
		f.Depth = max(f.Depth, level)
		switch op.Kind {
		case OpDelay:
			continue
		case OpMeasure:
			f.Measurements++
		case OpGate:
			switch {
			case len(op.Qubits) == 2:
				f.TwoQubitGates++
			case len(op.Qubits) > 2:
				f.MultiQubitGates++
			}
		}
		for _, q := range op.Qubits {
			active[q] = true
		}
	}
	f.ActiveQubits = make([]int, 0, len(active))
	for q := range active {
		f.ActiveQubits = append(f.ActiveQubits, q)
	}
	sort.Ints(f.ActiveQubits)
	return f
}
