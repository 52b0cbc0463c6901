package runtimeapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/qgov/qgov/circuit"
)

// DefaultShots is the number of shots of a sampler pub that names none.
const DefaultShots = 4096

// DefaultPrecision is the estimator's default target precision (1/√4096).
const DefaultPrecision = 0.015625

// MaxPubs bounds the number of pubs in one job.
const MaxPubs = 1000

// MaxShotsPerJob bounds the shots of a job summed over its pubs and their
// bindings (and so the size of its results).
const MaxShotsPerJob = 10_000_000

// maxPubElements bounds the elements (bindings × observables) of one pub.
const maxPubElements = 1 << 16

// Primitive is the decoded params of a sampler or estimator job.
type Primitive struct {
	Program string
	Pubs    []Pub
	// SupportQiskit selects the tagged PrimitiveResult encoding; otherwise
	// results are plain JSON.
	SupportQiskit bool
	// Seed is options.simulator.seed_simulator, when given.
	Seed *int64
}

// Pub is one decoded primitive unified bloc.
type Pub struct {
	Circuit *circuit.Circuit
	Facts   circuit.Facts
	// Shape is the pub's shape: the bindings' shape for a sampler, the
	// broadcast of bindings and observables for an estimator.
	Shape    []int
	Bindings Bindings
	// Shots per binding (estimator: derived from Precision).
	Shots int
	// Observables and Precision are set for estimator pubs.
	Observables *Observables
	Precision   float64
}

// Size returns the number of elements in the pub's shape.
func (p Pub) Size() int { return prod(p.Shape) }

// Bindings are parameter value sets: Values[i] holds one value per circuit
// parameter, in the circuit's (sorted) parameter order.
type Bindings struct {
	Shape  []int
	Values [][]float64
}

// Size returns the number of bindings.
func (b Bindings) Size() int { return prod(b.Shape) }

// Map returns binding i as a name → value map.
func (b Bindings) Map(i int, params []string) map[string]float64 {
	if len(params) == 0 {
		return nil
	}
	m := make(map[string]float64, len(params))
	for k, name := range params {
		m[name] = b.Values[i][k]
	}
	return m
}

// PauliTerm is one weighted Pauli string; Label[len-1-q] acts on qubit q.
type PauliTerm struct {
	Label string
	Coeff float64
}

// Observables is an array of observables, each a sum of Pauli terms.
type Observables struct {
	Shape []int
	Terms [][]PauliTerm
}

// primitiveParams is the params object of sampler and estimator jobs.
type primitiveParams struct {
	Pubs          []json.RawMessage `json:"pubs"`
	Version       int               `json:"version"`
	SupportQiskit bool              `json:"support_qiskit"`
	Shots         *int              `json:"shots"`
	Precision     *float64          `json:"precision"`
	Options       struct {
		DefaultShots     *int     `json:"default_shots"`
		DefaultPrecision *float64 `json:"default_precision"`
		Simulator        struct {
			SeedSimulator *int64 `json:"seed_simulator"`
		} `json:"simulator"`
	} `json:"options"`
}

// DecodePrimitive decodes the params of a sampler or estimator job,
// parsing every pub's circuit. Errors are 400s naming the pub and field.
func DecodePrimitive(program string, params json.RawMessage) (*Primitive, *Error) {
	var pp primitiveParams
	if err := DecodeJSON(params, &pp); err != nil {
		err.Message = "params: " + err.Message
		return nil, err
	}
	if pp.Version != 0 && pp.Version != 2 {
		return nil, BadRequest("invalid_params", "params.version %d is not supported (only primitives V2)", pp.Version)
	}
	if len(pp.Pubs) == 0 {
		return nil, BadRequest("invalid_pubs", "params.pubs must hold at least one pub")
	}
	if len(pp.Pubs) > MaxPubs {
		return nil, BadRequest("invalid_pubs", "params.pubs holds %d pubs, at most %d are allowed", len(pp.Pubs), MaxPubs)
	}
	shots := DefaultShots
	if pp.Options.DefaultShots != nil {
		shots = *pp.Options.DefaultShots
	}
	if pp.Shots != nil {
		shots = *pp.Shots
	}
	precision := DefaultPrecision
	if pp.Options.DefaultPrecision != nil {
		precision = *pp.Options.DefaultPrecision
	}
	if pp.Precision != nil {
		precision = *pp.Precision
	}
	prim := &Primitive{Program: program, SupportQiskit: pp.SupportQiskit, Seed: pp.Options.Simulator.SeedSimulator}
	total := 0
	for i, raw := range pp.Pubs {
		var pub Pub
		var err error
		if program == ProgramEstimator {
			pub, err = decodeEstimatorPub(raw, precision)
		} else {
			pub, err = decodeSamplerPub(raw, shots)
		}
		if err != nil {
			code := "invalid_pubs"
			if errors.As(err, new(circuitError)) {
				code = CodeInvalidCircuit
			}
			return nil, BadRequest(code, "pubs[%d]: %v", i, err)
		}
		prim.Pubs = append(prim.Pubs, pub)
		total += pub.Size() * pub.Shots
		if total > MaxShotsPerJob {
			return nil, BadRequest("too_many_shots", "pubs[0..%d] take %d shots (bindings × shots), more than %d per job", i, total, MaxShotsPerJob)
		}
	}
	return prim, nil
}

// CodeInvalidCircuit is the error code of a pub whose circuit cannot be
// read.
const CodeInvalidCircuit = "invalid_circuit"

// circuitError marks a pub error that lies in its circuit.
type circuitError struct{ err error }

func (e circuitError) Error() string { return "circuit: " + e.err.Error() }
func (e circuitError) Unwrap() error { return e.err }

func decodeTuple(raw json.RawMessage, minLen, maxLen int, form string) ([]json.RawMessage, error) {
	var tuple []json.RawMessage
	if err := json.Unmarshal(raw, &tuple); err != nil {
		return nil, fmt.Errorf("a pub must be a list %s", form)
	}
	if len(tuple) < minLen || len(tuple) > maxLen {
		return nil, fmt.Errorf("a pub must be a list %s, got %d elements", form, len(tuple))
	}
	return tuple, nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

func decodeSamplerPub(raw json.RawMessage, defaultShots int) (Pub, error) {
	tuple, err := decodeTuple(raw, 1, 3, "[circuit, parameter_values?, shots?]")
	if err != nil {
		return Pub{}, err
	}
	pub, err := decodeCircuitAndValues(tuple[0], tuple[1:])
	if err != nil {
		return Pub{}, err
	}
	if pub.Circuit.NumClbits == 0 {
		return Pub{}, errors.New("the circuit has no classical bits to sample (add measurements)")
	}
	pub.Shape = pub.Bindings.Shape
	pub.Shots = defaultShots
	if len(tuple) == 3 && !isNull(tuple[2]) {
		if err := json.Unmarshal(tuple[2], &pub.Shots); err != nil {
			return Pub{}, errors.New("shots must be a positive integer or null")
		}
	}
	if pub.Shots <= 0 || pub.Shots > MaxShotsPerJob {
		return Pub{}, fmt.Errorf("shots must be a positive integer up to %d, got %d", MaxShotsPerJob, pub.Shots)
	}
	return pub, nil
}

func decodeEstimatorPub(raw json.RawMessage, defaultPrecision float64) (Pub, error) {
	tuple, err := decodeTuple(raw, 2, 4, "[circuit, observables, parameter_values?, precision?]")
	if err != nil {
		return Pub{}, err
	}
	rest := tuple[2:]
	pub, err := decodeCircuitAndValues(tuple[0], rest)
	if err != nil {
		return Pub{}, err
	}
	if pub.Facts.Measurements > 0 || pub.Facts.Ops["reset"] > 0 {
		return Pub{}, errors.New("estimator circuits must not contain measurements or resets")
	}
	obs, err := decodeObservables(tuple[1], pub.Circuit.NumQubits)
	if err != nil {
		return Pub{}, fmt.Errorf("observables: %w", err)
	}
	pub.Observables = obs
	if pub.Shape, err = broadcastShapes(obs.Shape, pub.Bindings.Shape); err != nil {
		return Pub{}, err
	}
	if pub.Size() > maxPubElements {
		return Pub{}, fmt.Errorf("the pub has %d elements, at most %d are allowed", pub.Size(), maxPubElements)
	}
	pub.Precision = defaultPrecision
	if len(tuple) == 4 && !isNull(tuple[3]) {
		if err := json.Unmarshal(tuple[3], &pub.Precision); err != nil {
			return Pub{}, errors.New("precision must be a positive number or null")
		}
	}
	if !(pub.Precision > 0) || math.IsInf(pub.Precision, 0) {
		return Pub{}, fmt.Errorf("precision must be a positive number, got %v", pub.Precision)
	}
	shots := math.Ceil(1 / (pub.Precision * pub.Precision))
	if shots > MaxShotsPerJob {
		return Pub{}, fmt.Errorf("precision %v would take %.0f shots, more than %d", pub.Precision, shots, MaxShotsPerJob)
	}
	pub.Shots = int(shots)
	return pub, nil
}

// decodeCircuit parses a pub's circuit: an OpenQASM 2/3 string, or the
// client's tagged QuantumCircuit (base64 of zlib-compressed QPY).
func decodeCircuit(raw json.RawMessage) (*circuit.Circuit, error) {
	var src string
	if json.Unmarshal(raw, &src) == nil {
		return circuit.Parse(src)
	}
	var tag struct {
		Type  string `json:"__type__"`
		Value string `json:"__value__"`
	}
	if json.Unmarshal(raw, &tag) != nil || tag.Type != "QuantumCircuit" {
		return nil, errors.New("must be an OpenQASM string or a tagged QuantumCircuit")
	}
	qpy, err := inflateBase64(tag.Value)
	if err != nil {
		return nil, fmt.Errorf("QuantumCircuit: %w", err)
	}
	return circuit.ParseQPY(qpy)
}

// decodeCircuitAndValues parses the circuit and, when rest[0] is present,
// its parameter values.
func decodeCircuitAndValues(rawCircuit json.RawMessage, rest []json.RawMessage) (Pub, error) {
	c, err := decodeCircuit(rawCircuit)
	if err != nil {
		return Pub{}, circuitError{err}
	}
	pub := Pub{Circuit: c, Facts: c.Facts()}
	var values json.RawMessage
	if len(rest) > 0 {
		values = rest[0]
	}
	if pub.Bindings, err = decodeBindings(values, c.Parameters); err != nil {
		return Pub{}, fmt.Errorf("parameter values: %w", err)
	}
	if prod(pub.Bindings.Shape) > maxPubElements {
		return Pub{}, fmt.Errorf("%d parameter bindings, at most %d are allowed", prod(pub.Bindings.Shape), maxPubElements)
	}
	return pub, nil
}

// decodeBindings accepts null, a nested list whose last axis holds one value
// per parameter, a name → value (or nested list) map, or a tagged ndarray.
func decodeBindings(raw json.RawMessage, params []string) (Bindings, error) {
	np := len(params)
	if isNull(raw) {
		if np > 0 {
			return Bindings{}, fmt.Errorf("the circuit has parameters %v but no values were given", params)
		}
		return Bindings{Values: [][]float64{nil}}, nil
	}
	var flat []float64
	var shape []int
	var obj map[string]json.RawMessage
	switch {
	case json.Unmarshal(raw, &obj) == nil && obj["__type__"] == nil:
		return bindingsFromMap(obj, params)
	case obj != nil:
		var tag struct {
			Type  string          `json:"__type__"`
			Value json.RawMessage `json:"__value__"`
		}
		_ = json.Unmarshal(raw, &tag)
		if tag.Type != "ndarray" {
			return Bindings{}, fmt.Errorf("unsupported tagged type %q (expected ndarray)", tag.Type)
		}
		var err error
		if flat, shape, err = DecodeNdarrayFloat(tag.Value); err != nil {
			return Bindings{}, err
		}
	default:
		var list any
		if err := json.Unmarshal(raw, &list); err != nil {
			return Bindings{}, errors.New("must be a list, an object or an ndarray")
		}
		var err error
		if flat, shape, err = FlattenNumbers(list); err != nil {
			return Bindings{}, err
		}
	}
	if np == 0 {
		if len(flat) != 0 {
			return Bindings{}, fmt.Errorf("the circuit has no parameters but %d values were given", len(flat))
		}
		// np.empty((0,)) and friends: shape () with no values.
		return Bindings{Values: [][]float64{nil}}, nil
	}
	if len(shape) == 0 || shape[len(shape)-1] != np {
		return Bindings{}, fmt.Errorf("the last axis must hold %d values (one per parameter %v), got shape %v", np, params, shape)
	}
	b := Bindings{}
	if len(shape) > 1 {
		b.Shape = shape[:len(shape)-1]
	}
	for i := 0; i < len(flat); i += np {
		b.Values = append(b.Values, flat[i:i+np])
	}
	return b, nil
}

func bindingsFromMap(obj map[string]json.RawMessage, params []string) (Bindings, error) {
	var shape []int
	columns := make([][]float64, len(params))
	for k, name := range params {
		raw, ok := obj[name]
		if !ok {
			return Bindings{}, fmt.Errorf("no value for parameter %q", name)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return Bindings{}, fmt.Errorf("parameter %q: %w", name, err)
		}
		flat, s, err := FlattenNumbers(v)
		if err != nil {
			return Bindings{}, fmt.Errorf("parameter %q: %w", name, err)
		}
		if k > 0 && !slices.Equal(s, shape) {
			return Bindings{}, fmt.Errorf("parameter %q has shape %v, others have %v", name, s, shape)
		}
		shape, columns[k] = s, flat
	}
	if len(obj) != len(params) {
		var extra []string
		for name := range obj {
			if !slices.Contains(params, name) {
				extra = append(extra, name)
			}
		}
		sort.Strings(extra)
		return Bindings{}, fmt.Errorf("the circuit has no parameters named %s", strings.Join(extra, ", "))
	}
	b := Bindings{Shape: shape}
	for i := 0; i < prod(shape); i++ {
		row := make([]float64, len(params))
		for k := range params {
			row[k] = columns[k][i]
		}
		b.Values = append(b.Values, row)
	}
	return b, nil
}

// decodeObservables accepts a Pauli string, a {Pauli string: coefficient}
// map, or nested lists of those.
func decodeObservables(raw json.RawMessage, numQubits int) (*Observables, error) {
	obs := &Observables{}
	var walk func(raw json.RawMessage, depth int) error
	walk = func(raw json.RawMessage, depth int) error {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) == nil {
			if depth == len(obs.Shape) {
				if len(obs.Terms) > 0 {
					return errors.New("ragged observables list")
				}
				obs.Shape = append(obs.Shape, len(list))
			} else if depth > len(obs.Shape) || obs.Shape[depth] != len(list) {
				return errors.New("ragged observables list")
			}
			for _, e := range list {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if depth != len(obs.Shape) {
			return errors.New("ragged observables list")
		}
		terms, err := decodeObservable(raw, numQubits)
		if err != nil {
			return err
		}
		obs.Terms = append(obs.Terms, terms)
		return nil
	}
	if err := walk(raw, 0); err != nil {
		return nil, err
	}
	if len(obs.Terms) == 0 {
		return nil, errors.New("no observables given")
	}
	if len(obs.Terms) > maxPubElements {
		return nil, fmt.Errorf("%d observables, at most %d are allowed", len(obs.Terms), maxPubElements)
	}
	return obs, nil
}

func decodeObservable(raw json.RawMessage, numQubits int) ([]PauliTerm, error) {
	var label string
	if json.Unmarshal(raw, &label) == nil {
		return []PauliTerm{{label, 1}}, checkPauli(label, numQubits)
	}
	var m map[string]float64
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("an observable must be a Pauli string or a {Pauli string: coefficient} object")
	}
	if len(m) == 0 {
		return nil, errors.New("an observable must have at least one term")
	}
	terms := make([]PauliTerm, 0, len(m))
	for l, c := range m {
		if err := checkPauli(l, numQubits); err != nil {
			return nil, err
		}
		terms = append(terms, PauliTerm{l, c})
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i].Label < terms[j].Label })
	return terms, nil
}

func checkPauli(label string, numQubits int) error {
	if len(label) != numQubits {
		return fmt.Errorf("Pauli string %q has %d characters, the circuit has %d qubits", label, len(label), numQubits)
	}
	if i := strings.IndexFunc(label, func(r rune) bool { return !strings.ContainsRune("IXYZ", r) }); i >= 0 {
		return fmt.Errorf("Pauli string %q has %q at position %d (only I, X, Y, Z)", label, label[i], i)
	}
	return nil
}

func prod(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// broadcastShapes applies NumPy's broadcasting rules to two shapes.
func broadcastShapes(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	if n == 0 {
		return nil, nil
	}
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if k := len(a) - n + i; k >= 0 {
			da = a[k]
		}
		if k := len(b) - n + i; k >= 0 {
			db = b[k]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("observables of shape %v and parameter values of shape %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// BroadcastIndex maps flat index i of shape out to the flat index of the
// operand of shape in that broadcasts to it.
func BroadcastIndex(i int, out, in []int) int {
	idx, stride := 0, 1
	for k := len(out) - 1; k >= 0; k-- {
		coord := i % out[k]
		i /= out[k]
		if j := len(in) - len(out) + k; j >= 0 {
			if in[j] != 1 {
				idx += coord * stride
			}
			stride *= in[j]
		}
	}
	return idx
}
