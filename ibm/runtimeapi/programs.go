package runtimeapi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/qgov/qgov/circuit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/internal/strictjson"
)

// Programs the gateway sizes besides the sampler and the estimator.
const (
	ProgramExecutor     = "executor"
	ProgramNoiseLearner = "noise-learner"
)

// maxItems bounds the items of an executor job the gateway reads.
const maxItems = MaxPubs

// executorParams are the params of the executor (schema v2.0, as
// qiskit-ibm-runtime's Executor writes them): one QPY stream of every
// circuit, one item per circuit, and the shots of each execution.
type executorParams struct {
	SchemaVersion  string         `json:"schema_version"`
	QuantumProgram quantumProgram `json:"quantum_program"`
}

type quantumProgram struct {
	Shots    int             `json:"shots"`
	Circuits strictjson.Skip `json:"circuits"` // read in place: programCircuits
	Items    []executorItem  `json:"items"`
}

// executorItem is a circuit item (its circuit's arguments: the last
// axis over the circuit's parameters, the ones before it one execution
// each) or a samplex item (its shape: one execution per element).
type executorItem struct {
	ItemType         string  `json:"item_type"`
	Shape            []int   `json:"shape"`
	CircuitArguments *tensor `json:"circuit_arguments"`
}

// tensor is a compressed array: its shape is what sizes a job (the
// upstream checks the data against it).
type tensor struct {
	Data  strictjson.Skip `json:"data"`
	Shape []int           `json:"shape"`
	DType string          `json:"dtype"`
}

// executor sizes an executor job: each item runs its circuit once per
// element of its shape broadcast with its arguments' leading shape, each
// execution params.quantum_program.shots times.
func (pr pubReader) executor(params []byte) (*Submission, *denial.Denial) {
	qp, circuits, shapes, err := pr.quantumProgram(params)
	if err != nil || qp == nil {
		return nil, err
	}
	sub := &Submission{}
	for i, shape := range shapes {
		pub := PubSummary{Bindings: prod(shape), Shots: qp.Shots}
		if circuits != nil {
			pub.Known, pub.Facts = true, circuits[i].Facts
		}
		sub.Pubs = append(sub.Pubs, pub)
	}
	sub.Shots = -1
	if circuits != nil {
		sub.Shots = totalShots(sub.Pubs)
	}
	return sub, nil
}

// executorProgram reads an executor job to run it: each circuit item
// becomes a pub of its circuit, its bindings (the circuit arguments,
// their last axis over the circuit's parameters) and the program's
// shots. Samplex items are not run here.
func (pr pubReader) executorProgram(params []byte) (*Primitive, *denial.Denial) {
	qp, circuits, shapes, err := pr.quantumProgram(params)
	switch {
	case err != nil:
		return nil, err
	case qp == nil:
		return nil, denial.Newf("invalid_params", "params.schema_version must be v2.0")
	case circuits == nil:
		return nil, denial.Newf("invalid_params", "params.quantum_program.circuits must be compressed QPY (b64_data)")
	}
	var items [][]byte
	_ = strictjson.Elements(member(member(params, "quantum_program"), "items"), func(raw []byte) error {
		items = append(items, raw)
		return nil
	})
	if qp.Shots > MaxShotsPerJob {
		return nil, denial.Newf("too_many_shots", "params.quantum_program.shots %d is more than %d", qp.Shots, MaxShotsPerJob)
	}
	total := 0
	for i, shape := range shapes {
		if total += prod(shape) * qp.Shots; prod(shape) > maxPubElements || total > MaxShotsPerJob {
			return nil, denial.Newf("too_many_shots", "items[0..%d] take more than %d shots (executions × shots), or an item more than %d executions", i, MaxShotsPerJob, maxPubElements)
		}
	}
	prim := &Primitive{Program: ProgramExecutor}
	for i, it := range qp.Items {
		if it.ItemType != "circuit" {
			return nil, denial.Newf("invalid_params", "items[%d]: %s items are not run by the simulator, circuit items are", i, it.ItemType)
		}
		c, args := circuits[i], it.CircuitArguments
		if n := args.Shape[len(args.Shape)-1]; n != len(c.Parameters) {
			return nil, denial.Newf("invalid_params", "items[%d].circuit_arguments has %d values per binding for a circuit of %d parameters", i, n, len(c.Parameters))
		}
		if prod(shapes[i]) != prod(args.Shape[:len(args.Shape)-1]) {
			return nil, denial.Newf("invalid_params", "items[%d]: a shape %v broadcast over circuit_arguments %v is not run by the simulator", i, it.Shape, args.Shape)
		}
		if args.DType != "f64" {
			return nil, denial.Newf("invalid_params", "items[%d].circuit_arguments has dtype %q; the simulator reads f64", i, args.DType)
		}
		values, verr := float64Tensor(member(member(items[i], "circuit_arguments"), "data"), prod(args.Shape))
		if verr != nil {
			return nil, denial.Newf("invalid_params", "items[%d].circuit_arguments: %v", i, verr)
		}
		b := Bindings{Shape: shapes[i], Values: make([][]float64, prod(shapes[i]))}
		for k := range b.Values {
			b.Values[k] = values[k*len(c.Parameters) : (k+1)*len(c.Parameters)]
		}
		prim.Pubs = append(prim.Pubs, Pub{Circuit: c, Facts: c.Facts, Bindings: b, Shape: shapes[i], Shots: qp.Shots})
	}
	return prim, nil
}

// float64Tensor decodes a compressed tensor's data: base64 of zlib of n
// little-endian float64 values.
func float64Tensor(data []byte, n int) ([]float64, error) {
	zr, err := inflate(data)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(zr, int64(8*n)+1))
	if err != nil {
		return nil, err
	}
	if len(raw) != 8*n {
		return nil, fmt.Errorf("data holds %d bytes, not the %d values (f64) of its shape", len(raw), n)
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return out, nil
}

// quantumProgram reads an executor job's quantum program: its items,
// their circuits (nil when not QPY) and each item's shape of executions.
// A schema other than v2.0 gives a nil program.
func (pr pubReader) quantumProgram(params []byte) (*quantumProgram, []*circuit.Circuit, [][]int, *denial.Denial) {
	var ep executorParams
	if err := strictjson.Unmarshal(params, &ep, false); err != nil {
		return nil, nil, nil, denial.Newf("invalid_json", "params: %v", err)
	}
	if ep.SchemaVersion != "v2.0" {
		return nil, nil, nil, nil
	}
	raw, qp := member(params, "quantum_program"), ep.QuantumProgram
	if qp.Shots < 1 {
		return nil, nil, nil, denial.Newf("invalid_params", "params.quantum_program.shots must be a positive integer")
	}
	if len(qp.Items) == 0 || len(qp.Items) > maxItems {
		return nil, nil, nil, denial.Newf("invalid_params", "params.quantum_program.items holds %d items; 1 to %d are read", len(qp.Items), maxItems)
	}
	circuits, err := pr.programCircuits(member(raw, "circuits"), len(qp.Items))
	if err != nil {
		if errors.Is(err, circuit.ErrLimit) {
			return nil, nil, nil, tooLarge("params.quantum_program.circuits", err)
		}
		return nil, nil, nil, denial.Newf(CodeInvalidCircuit, "params.quantum_program.circuits: %v", err)
	}
	if circuits != nil && len(circuits) != len(qp.Items) {
		return nil, nil, nil, denial.Newf("invalid_params", "params.quantum_program holds %d circuits for %d items; each item runs one", len(circuits), len(qp.Items))
	}
	shapes := make([][]int, len(qp.Items))
	for i, it := range qp.Items {
		shape := it.Shape
		switch it.ItemType {
		case "circuit":
			if it.CircuitArguments == nil || len(it.CircuitArguments.Shape) == 0 {
				return nil, nil, nil, denial.Newf("invalid_params", "items[%d].circuit_arguments needs a shape whose last axis is over the circuit's parameters", i)
			}
			var ok bool
			if shape, ok = broadcast(shape, it.CircuitArguments.Shape[:len(it.CircuitArguments.Shape)-1]); !ok {
				return nil, nil, nil, denial.Newf("invalid_params", "items[%d]: shape %v does not broadcast with circuit_arguments %v", i, it.Shape, it.CircuitArguments.Shape)
			}
		case "samplex":
		default:
			return nil, nil, nil, denial.Newf("invalid_params", "items[%d].item_type %q is neither circuit nor samplex", i, it.ItemType)
		}
		if _, ok := product(shape); !ok {
			return nil, nil, nil, denial.Newf("invalid_params", "items[%d] runs more than %d executions, or names a negative axis", i, maxExecutions)
		}
		shapes[i] = shape
	}
	return &qp, circuits, shapes, nil
}

// programCircuits reads the circuits of a quantum program: one
// compressed QPY stream of several circuits; nil when they are sent as
// OpenQASM, which the gateway does not size here.
func (pr pubReader) programCircuits(raw []byte, n int) ([]*circuit.Circuit, error) {
	b64 := member(raw, "b64_data")
	if b64 == nil {
		return nil, nil
	}
	qpy, err := inflate(b64)
	if err != nil {
		return nil, fmt.Errorf("b64_data: %w", err)
	}
	return circuit.Reader{Budget: pr.budget, KeepOps: pr.keep}.QPYCircuits(qpy, n)
}

// maxExecutions bounds the executions one item may name.
const maxExecutions = 1 << 40

// broadcast is NumPy's broadcast of two shapes.
func broadcast(a, b []int) ([]int, bool) {
	out := make([]int, max(len(a), len(b)))
	for i := range out {
		x, y := dim(a, len(a)-len(out)+i), dim(b, len(b)-len(out)+i)
		switch {
		case x == y, y == 1:
			out[i] = x
		case x == 1:
			out[i] = y
		default:
			return nil, false
		}
	}
	return out, true
}

func dim(s []int, i int) int {
	if i < 0 {
		return 1
	}
	return s[i]
}

// product is the number of elements of a shape, false past maxExecutions
// or for a negative axis.
func product(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 || d > 0 && n > maxExecutions/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// totalShots sums executions × shots over a job's pubs or items,
// saturating far past any limit rather than overflowing into a small
// number.
func totalShots(pubs []PubSummary) int {
	const ceiling = math.MaxInt64 / 4
	total := 0
	for _, p := range pubs {
		if p.Shots > 0 && p.Bindings > (ceiling-total)/p.Shots {
			return ceiling
		}
		total += p.Bindings * p.Shots
	}
	return total
}

// noiseLearnerParams are the params of the noise learner (v2: its
// circuits and the options set; v3: schema v0.3, one circuit of the
// instructions to learn).
type noiseLearnerParams struct {
	Version       int             `json:"version"`
	SchemaVersion string          `json:"schema_version"`
	Circuits      strictjson.Skip `json:"circuits"` // read in place, one by one
	Options       struct {
		MaxLayersToLearn      *int  `json:"max_layers_to_learn"`
		ShotsPerRandomization *int  `json:"shots_per_randomization"`
		NumRandomizations     *int  `json:"num_randomizations"`
		LayerPairDepths       []int `json:"layer_pair_depths"`
	} `json:"options"`
}

// noiseLearner sizes a noise-learner v2 job by its documented bound: each
// circuit learns at most max_layers_to_learn layers (default 4), each
// layer runs 9 circuits per layer-pair depth (default 0, 1, 2, 4, 16, 32),
// num_randomizations times (default 32), shots_per_randomization shots
// each (default 128). A job that lifts max_layers_to_learn (null), or a
// v3 job, has an unknown size.
func (pr pubReader) noiseLearner(params []byte) (*Submission, *denial.Denial) {
	var nl noiseLearnerParams
	if err := strictjson.Unmarshal(params, &nl, false); err != nil {
		return nil, denial.Newf("invalid_json", "params: %v", err)
	}
	opts := member(params, "options")
	if nl.Version == 3 || nl.SchemaVersion != "" || opts != nil && member(opts, "max_layers_to_learn") != nil && nl.Options.MaxLayersToLearn == nil {
		return nil, nil
	}
	layers, shots, rands, depths := 4, 128, 32, 6
	if nl.Options.MaxLayersToLearn != nil {
		layers = *nl.Options.MaxLayersToLearn
	}
	if nl.Options.ShotsPerRandomization != nil {
		shots = *nl.Options.ShotsPerRandomization
	}
	if nl.Options.NumRandomizations != nil {
		rands = *nl.Options.NumRandomizations
	}
	if nl.Options.LayerPairDepths != nil {
		depths = len(nl.Options.LayerPairDepths)
	}
	executions, ok := product([]int{layers, depths, 9, rands})
	if !ok || shots < 1 || layers < 0 {
		return nil, denial.Newf("invalid_params", "params.options of the noise learner are out of range")
	}
	sub := &Submission{}
	err := strictjson.Elements(member(params, "circuits"), func(raw []byte) error {
		if len(sub.Pubs) >= MaxPubs {
			return errTooManyPubs
		}
		c, err := pr.circuit(raw)
		if err != nil {
			return err
		}
		sub.Pubs = append(sub.Pubs, PubSummary{Known: true, Facts: c.Facts, Bindings: executions, Shots: shots})
		return nil
	})
	switch {
	case errors.Is(err, circuit.ErrLimit):
		return nil, tooLarge("params.circuits", err)
	case err != nil:
		return nil, nil // circuits the gateway cannot read: the size is unknown
	case len(sub.Pubs) == 0:
		return nil, denial.Newf("invalid_params", "params.circuits must hold at least one circuit")
	}
	sub.Shots = totalShots(sub.Pubs)
	return sub, nil
}
