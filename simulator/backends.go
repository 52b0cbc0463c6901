package simulator

import (
	"errors"
	"fmt"
	"hash/fnv"
	"time"
)

// Backend topologies.
const (
	// TopologyEagle is IBM's 127-qubit Eagle heavy-hex lattice.
	TopologyEagle = "eagle"
	// TopologyLine couples qubit i with i+1.
	TopologyLine = "line"
	// TopologyFull couples every pair of qubits.
	TopologyFull = "full"
)

// BackendConfig is one fake device.
type BackendConfig struct {
	// Name is the backend name clients select, e.g. "ibm_qgov_eagle".
	Name string `json:"name"`
	// NumQubits is the device's qubit count.
	NumQubits int `json:"num_qubits"`
	// Topology is "eagle" (127 qubits), "line" or "full"; simulators have
	// no coupling map.
	Topology string `json:"topology,omitempty"`
	// Simulator marks a simulator backend: no coupling map, no properties,
	// no sessions, and no quantum time charged.
	Simulator bool `json:"simulator,omitempty"`
	// Processor and Revision name the processor family, e.g. "Eagle", 3.
	Processor string `json:"processor,omitempty"`
	Revision  int    `json:"revision,omitempty"`
	// TwoQubitGate is the native two-qubit gate: "ecr" (default for Eagle)
	// or "cz" (default otherwise).
	TwoQubitGate string `json:"two_qubit_gate,omitempty"`
	// Status is "active" (default), "maintenance" or "internal"; only active
	// backends accept jobs.
	Status string `json:"status,omitempty"`
}

func (b BackendConfig) validate() error {
	switch {
	case b.Name == "":
		return errors.New("name is required")
	case b.NumQubits < 1 || b.NumQubits > 1000:
		return fmt.Errorf("num_qubits must be 1 to 1000, got %d", b.NumQubits)
	case b.Topology == TopologyEagle && b.NumQubits != 127:
		return errors.New("the eagle topology has exactly 127 qubits")
	case b.Topology != "" && b.Topology != TopologyEagle && b.Topology != TopologyLine && b.Topology != TopologyFull:
		return fmt.Errorf("unknown topology %q", b.Topology)
	case b.Status != "" && b.Status != "active" && b.Status != "maintenance" && b.Status != "internal":
		return fmt.Errorf("unknown status %q", b.Status)
	case b.TwoQubitGate != "" && b.TwoQubitGate != "ecr" && b.TwoQubitGate != "cz":
		return fmt.Errorf("two_qubit_gate must be ecr or cz, not %q", b.TwoQubitGate)
	}
	return nil
}

// Gate durations of the timing model, in seconds.
const (
	oneQubitGateSeconds = 60e-9
	twoQubitGateSeconds = 660e-9
	measureSeconds      = 1.56e-6
	resetSeconds        = 1.56e-6
	dtSeconds           = 2.0 / 9.0 * 1e-9
	repDelaySeconds     = 250e-6
	jobOverheadSeconds  = 2.0
)

// backend is a provisioned fake device.
type backend struct {
	BackendConfig
	coupling [][2]int
	twoQ     string
	online   time.Time
}

func newBackend(c BackendConfig) *backend {
	b := &backend{BackendConfig: c, online: time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC)}
	if b.Status == "" {
		b.Status = "active"
	}
	b.twoQ = c.TwoQubitGate
	if b.twoQ == "" {
		b.twoQ = "cz"
		if c.Topology == TopologyEagle {
			b.twoQ = "ecr"
		}
	}
	if !c.Simulator {
		b.coupling = couplingMap(c.Topology, c.NumQubits)
	}
	return b
}

// couplingMap returns the directed coupling pairs (both directions).
func couplingMap(topology string, n int) [][2]int {
	var edges [][2]int
	switch topology {
	case TopologyEagle:
		edges = eagleEdges()
	case TopologyFull:
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				edges = append(edges, [2]int{i, j})
			}
		}
	default:
		for i := 0; i+1 < n; i++ {
			edges = append(edges, [2]int{i, i + 1})
		}
	}
	out := make([][2]int, 0, 2*len(edges))
	for _, e := range edges {
		out = append(out, e, [2]int{e[1], e[0]})
	}
	return out
}

// eagleEdges builds the Eagle heavy-hex lattice: seven rows of qubits (14,
// 15, 15, 15, 15, 15, 14 wide) joined by rows of four bridge qubits at
// columns 0, 4, 8, 12 (even bridge rows) or 2, 6, 10, 14 (odd ones).
func eagleEdges() [][2]int {
	type row struct{ start, first, last int }
	var rows []row
	next := 0
	var bridges [][]int
	for r := 0; r < 7; r++ {
		first, last := 0, 14
		if r == 0 {
			last = 13
		}
		if r == 6 {
			first = 1
		}
		rows = append(rows, row{next, first, last})
		next += last - first + 1
		if r < 6 {
			b := make([]int, 4)
			for i := range b {
				b[i] = next + i
			}
			bridges = append(bridges, b)
			next += 4
		}
	}
	at := func(r row, col int) int { return r.start + col - r.first }
	var edges [][2]int
	for r, rw := range rows {
		for col := rw.first; col < rw.last; col++ {
			edges = append(edges, [2]int{at(rw, col), at(rw, col+1)})
		}
		if r < 6 {
			offset := 0
			if r%2 == 1 {
				offset = 2
			}
			for i, q := range bridges[r] {
				col := offset + 4*i
				edges = append(edges, [2]int{at(rw, col), q}, [2]int{q, at(rows[r+1], col)})
			}
		}
	}
	return edges
}

// basisGates lists the device's basis gates.
func (b *backend) basisGates() []string {
	if b.Simulator {
		return []string{"cx", "cz", "ecr", "h", "id", "rz", "rx", "ry", "sx", "x", "y", "z", "s", "sdg", "t", "tdg", "swap", "ccx", "cp", "u"}
	}
	return []string{b.twoQ, "id", "rz", "sx", "x"}
}

// noise returns a deterministic pseudo-random number in [0, 1) for the
// given backend, qubit and quantity, so properties are stable across runs.
func (b *backend) noise(key string, q ...int) float64 {
	h := fnv.New64a()
	fmt.Fprint(h, b.Name, key, q)
	return float64(h.Sum64()%1_000_000) / 1_000_000
}
