package runtimeapi

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/qgov/qgov/circuit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/internal/strictjson"
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
	// Circuit is the pub's circuit; read for its facts only, it holds no
	// operations.
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
// parameter, in the circuit's (sorted) parameter order. Read for facts
// only, Values is nil and only the shape is known.
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

// Observables is an array of observables, each a sum of Pauli terms. Read
// for facts only, Terms is nil and only the shape is known.
type Observables struct {
	Shape []int
	Terms [][]PauliTerm
}

// primitiveParams is the params object of sampler and estimator jobs; its
// pubs are read in place.
type primitiveParams struct {
	Pubs          strictjson.Skip `json:"pubs"`
	Version       int             `json:"version"`
	SupportQiskit bool            `json:"support_qiskit"`
	Shots         *int            `json:"shots"`
	Precision     *float64        `json:"precision"`
	Options       struct {
		DefaultShots     *int     `json:"default_shots"`
		DefaultPrecision *float64 `json:"default_precision"`
		Simulator        struct {
			SeedSimulator *int64 `json:"seed_simulator"`
		} `json:"simulator"`
	} `json:"options"`
}

// taggedIn is the RuntimeEncoder's typed value as the gateway reads it.
type taggedIn struct {
	Type  string          `json:"__type__"`
	Value strictjson.Skip `json:"__value__"`
}

// DecodePrimitive decodes the params of a sampler or estimator job,
// parsing every pub's circuit and keeping what simulating it needs.
// Errors are 400s naming the pub and field.
func DecodePrimitive(program string, params []byte) (*Primitive, *denial.Denial) {
	if err := strictjson.Check(params, jobNames); err != nil {
		return nil, denial.Newf("invalid_json", "params: malformed JSON: %v", err)
	}
	pr := pubReader{keep: true, budget: circuit.NewBudget(circuit.DefaultLimits)}
	if program == ProgramExecutor {
		return pr.executorProgram(params)
	}
	return pr.primitive(program, params)
}

// pubReader reads the pubs of one job. With keep it keeps what simulating
// them needs (circuits' operations, parameter values, observables'
// terms); otherwise only their facts and shapes. Every pub draws on one
// budget, and nothing of the params is copied but a QASM circuit's text.
type pubReader struct {
	keep   bool
	budget *circuit.Budget
}

// primitive reads params that have passed strictjson.Check.
func (pr pubReader) primitive(program string, params []byte) (*Primitive, *denial.Denial) {
	var pp primitiveParams
	if err := strictjson.Unmarshal(params, &pp, false); err != nil {
		return nil, denial.Newf("invalid_json", "params: %v", err)
	}
	if pp.Version != 0 && pp.Version != 2 {
		return nil, denial.Newf("invalid_params", "params.version %d is not supported (only primitives V2)", pp.Version)
	}
	var pubs []byte
	_ = strictjson.Members(params, func(name string, v []byte) error {
		if name == "pubs" {
			pubs = v
		}
		return nil
	})
	shots := DefaultShots
	if pp.Options.DefaultShots != nil {
		shots = *pp.Options.DefaultShots
	}
	if pp.Shots != nil {
		shots = *pp.Shots
	}
	// an estimator's default_shots overrides its default_precision
	// (IBM's options); a run's precision overrides both
	precision := DefaultPrecision
	if pp.Options.DefaultPrecision != nil {
		precision = *pp.Options.DefaultPrecision
	}
	if pp.Options.DefaultShots != nil && program == ProgramEstimator {
		if *pp.Options.DefaultShots <= 0 {
			return nil, denial.Newf("invalid_params", "options.default_shots must be a positive integer")
		}
		precision = 1 / math.Sqrt(float64(*pp.Options.DefaultShots))
	}
	if pp.Precision != nil {
		precision = *pp.Precision
	}
	prim := &Primitive{Program: program, SupportQiskit: pp.SupportQiskit, Seed: pp.Options.Simulator.SeedSimulator}
	if kind := strictjson.Kind(pubs); kind != strictjson.Array {
		if kind == 0 || kind == strictjson.Null {
			return nil, denial.Newf("invalid_pubs", "params.pubs must hold at least one pub")
		}
		return nil, denial.Newf("invalid_json", `params: field "pubs" must be a list of pubs`)
	}
	total := 0
	var failed *denial.Denial
	err := strictjson.Elements(pubs, func(raw []byte) error {
		i := len(prim.Pubs)
		if i == MaxPubs {
			failed = denial.Newf("invalid_pubs", "params.pubs holds more than %d pubs", MaxPubs)
			return failed
		}
		var pub Pub
		var err error
		if program == ProgramEstimator {
			pub, err = pr.estimatorPub(raw, precision)
		} else {
			pub, err = pr.samplerPub(raw, shots)
		}
		if err != nil {
			failed = pr.pubError(i, err)
			return failed
		}
		prim.Pubs = append(prim.Pubs, pub)
		total += pub.Size() * pub.Shots
		if total > MaxShotsPerJob {
			failed = denial.Newf("too_many_shots", "pubs[0..%d] take %d shots (bindings × shots), more than %d per job", i, total, MaxShotsPerJob)
			return failed
		}
		return nil
	})
	switch {
	case failed != nil:
		return nil, failed
	case err != nil:
		return nil, denial.Newf("invalid_json", "params.pubs: %v", err)
	case len(prim.Pubs) == 0:
		return nil, denial.Newf("invalid_pubs", "params.pubs must hold at least one pub")
	}
	return prim, nil
}

// tooLarge is the answer to circuits past the reading budget: 413.
func tooLarge(where string, err error) *denial.Denial {
	return denial.New(CodeCircuitsTooLarge, fmt.Sprintf(
		"%s: %v; the gateway reads at most that much of one job (rule: the gateway's circuit limits): split the job", where, err))
}

// pubError is the answer to a pub that cannot be read: 413 when its
// circuits exceed the reading budget, else a 400 naming the pub. For the
// gateway, an OpenQASM circuit it cannot read (control flow, a gate it
// does not know) is no error but a circuit it did not read
// (codeCircuitNotRead): the upstream may run it.
func (pr pubReader) pubError(i int, err error) *denial.Denial {
	if errors.Is(err, circuit.ErrLimit) {
		return tooLarge(fmt.Sprintf("pubs[%d]", i), err)
	}
	code := "invalid_pubs"
	var ce circuitError
	switch {
	case errors.As(err, &ce) && !ce.qpy && !pr.keep:
		code = codeCircuitNotRead
	case errors.As(err, &ce):
		code = CodeInvalidCircuit
	}
	return denial.Newf(code, "pubs[%d]: %v", i, err)
}

// codeCircuitNotRead marks, within the gateway, a pub whose OpenQASM it
// could not read: the job's size is then unknown.
const codeCircuitNotRead = "circuit_not_read"

// CodeInvalidCircuit is the error code of a pub whose circuit cannot be
// read.
const CodeInvalidCircuit = "invalid_circuit"

// CodeCircuitsTooLarge is the error code of a job whose circuits exceed
// the gateway's reading budget.
const CodeCircuitsTooLarge = "circuits_too_large"

// circuitError marks a pub error that lies in its circuit; qpy, that the
// circuit is QPY, which the gateway reads whole (only malformed bytes
// fail).
type circuitError struct {
	err error
	qpy bool
}

func (e circuitError) Error() string { return "circuit: " + e.err.Error() }
func (e circuitError) Unwrap() error { return e.err }

// tuple returns the elements of a pub: a list of minLen to maxLen values.
func tuple(raw []byte, minLen, maxLen int, form string) ([][]byte, error) {
	var out [][]byte
	err := strictjson.Elements(raw, func(v []byte) error {
		out = append(out, v)
		if len(out) > maxLen {
			return errors.New("too long")
		}
		return nil
	})
	switch {
	case strictjson.Kind(raw) != strictjson.Array:
		return nil, fmt.Errorf("a pub must be a list %s", form)
	case err != nil && len(out) > maxLen:
		return nil, fmt.Errorf("a pub must be a list %s, got more than %d elements", form, maxLen)
	case err != nil:
		return nil, err
	case len(out) < minLen:
		return nil, fmt.Errorf("a pub must be a list %s, got %d elements", form, len(out))
	}
	return out, nil
}

func isNull(raw []byte) bool { k := strictjson.Kind(raw); return k == 0 || k == strictjson.Null }

// positiveInt reads an optional positive integer of a pub.
func positiveInt(raw []byte, def int) (int, bool) {
	if isNull(raw) {
		return def, true
	}
	var n int
	return n, strictjson.Unmarshal(raw, &n, false) == nil
}

func (pr pubReader) samplerPub(raw []byte, defaultShots int) (Pub, error) {
	elems, err := tuple(raw, 1, 3, "[circuit, parameter_values?, shots?]")
	if err != nil {
		return Pub{}, err
	}
	pub, err := pr.circuitAndValues(elems[0], elems[1:])
	if err != nil {
		return Pub{}, err
	}
	if pub.Circuit.NumClbits == 0 {
		return Pub{}, errors.New("the circuit has no classical bits to sample (add measurements)")
	}
	pub.Shape = pub.Bindings.Shape
	pub.Shots = defaultShots
	if len(elems) == 3 {
		var ok bool
		if pub.Shots, ok = positiveInt(elems[2], defaultShots); !ok {
			return Pub{}, errors.New("shots must be a positive integer or null")
		}
	}
	if pub.Shots <= 0 || pub.Shots > MaxShotsPerJob {
		return Pub{}, fmt.Errorf("shots must be a positive integer up to %d, got %d", MaxShotsPerJob, pub.Shots)
	}
	return pub, nil
}

func (pr pubReader) estimatorPub(raw []byte, defaultPrecision float64) (Pub, error) {
	elems, err := tuple(raw, 2, 4, "[circuit, observables, parameter_values?, precision?]")
	if err != nil {
		return Pub{}, err
	}
	pub, err := pr.circuitAndValues(elems[0], elems[2:])
	if err != nil {
		return Pub{}, err
	}
	if pub.Facts.Measurements > 0 || pub.Facts.Ops["reset"] > 0 {
		return Pub{}, errors.New("estimator circuits must not contain measurements or resets")
	}
	obs, measured, err := pr.observables(elems[1], pub.Circuit.NumQubits)
	if err != nil {
		return Pub{}, fmt.Errorf("observables: %w", err)
	}
	pub.Observables = obs
	pub.Facts.ActiveQubits = union(pub.Facts.ActiveQubits, measured)
	if pub.Shape, err = broadcastShapes(obs.Shape, pub.Bindings.Shape); err != nil {
		return Pub{}, err
	}
	if pub.Size() > maxPubElements {
		return Pub{}, fmt.Errorf("the pub has %d elements, at most %d are allowed", pub.Size(), maxPubElements)
	}
	pub.Precision = defaultPrecision
	if len(elems) == 4 && !isNull(elems[3]) {
		if strictjson.Unmarshal(elems[3], &pub.Precision, false) != nil {
			return Pub{}, errors.New("precision must be a positive number or null")
		}
	}
	if !(pub.Precision > 0) || math.IsInf(pub.Precision, 0) {
		return Pub{}, fmt.Errorf("precision must be a positive number, got %v", pub.Precision)
	}
	shots := math.Ceil(1/(pub.Precision*pub.Precision) - 1e-9) // 1/precision² of a precision given as 1/√shots is those shots
	if shots > MaxShotsPerJob {
		return Pub{}, fmt.Errorf("precision %v would take %.0f shots, more than %d", pub.Precision, shots, MaxShotsPerJob)
	}
	pub.Shots = int(shots)
	return pub, nil
}

// circuit reads a pub's circuit: an OpenQASM 2/3 string, or the client's
// tagged QuantumCircuit (base64 of zlib-compressed QPY), streamed from
// the body through the inflater into the QPY reader.
func (pr pubReader) circuit(raw []byte) (*circuit.Circuit, error) {
	rd := circuit.Reader{Budget: pr.budget, KeepOps: pr.keep}
	if strictjson.Kind(raw) == strictjson.String {
		src, err := strictjson.Text(raw)
		if err != nil {
			return nil, err
		}
		if pr.keep {
			return rd.QASM(string(src))
		}
		// Read for its facts, the text is read where it lies in the body,
		// which nothing changes; the circuit keeps copies of the names it
		// holds.
		return rd.QASM(unsafe.String(unsafe.SliceData(src), len(src)))
	}
	var tag taggedIn
	if strictjson.Kind(raw) != strictjson.Object || strictjson.Unmarshal(raw, &tag, false) != nil || tag.Type != "QuantumCircuit" {
		return nil, errors.New("must be an OpenQASM string or a tagged QuantumCircuit")
	}
	qpy, err := inflate(member(raw, "__value__"))
	if err != nil {
		return nil, fmt.Errorf("QuantumCircuit: %w", err)
	}
	return rd.QPY(qpy)
}

// member returns the value of an object's member, or nil.
func member(obj []byte, name string) []byte {
	var out []byte
	_ = strictjson.Members(obj, func(n string, v []byte) error {
		if n == name {
			out = v
		}
		return nil
	})
	return out
}

// circuitAndValues reads the circuit and, when rest[0] is present, its
// parameter values.
func (pr pubReader) circuitAndValues(rawCircuit []byte, rest [][]byte) (Pub, error) {
	c, err := pr.circuit(rawCircuit)
	if err != nil {
		if errors.Is(err, circuit.ErrLimit) {
			return Pub{}, err
		}
		return Pub{}, circuitError{err: err, qpy: strictjson.Kind(rawCircuit) == strictjson.Object}
	}
	pub := Pub{Circuit: c, Facts: c.Facts}
	var values []byte
	if len(rest) > 0 {
		values = rest[0]
	}
	if pub.Bindings, err = pr.bindings(values, c.Parameters); err != nil {
		return Pub{}, fmt.Errorf("parameter values: %w", err)
	}
	return pub, nil
}

// bindings accepts null, a nested list whose last axis holds one value
// per parameter, a name → value (or nested list) map, or a tagged
// ndarray.
func (pr pubReader) bindings(raw []byte, params []string) (Bindings, error) {
	np := len(params)
	if isNull(raw) {
		if np > 0 {
			return Bindings{}, fmt.Errorf("the circuit has parameters %v but no values were given", params)
		}
		return Bindings{Values: [][]float64{nil}}, nil
	}
	var flat []float64
	var shape []int
	var err error
	var tag taggedIn
	switch kind := strictjson.Kind(raw); {
	case kind == strictjson.Object && strictjson.Unmarshal(raw, &tag, false) == nil && tag.Type == "":
		return pr.bindingsFromMap(raw, params)
	case kind == strictjson.Object:
		if tag.Type != "ndarray" {
			return Bindings{}, fmt.Errorf("unsupported tagged type %q (expected ndarray)", tag.Type)
		}
		if flat, shape, err = pr.ndarray(member(raw, "__value__")); err != nil {
			return Bindings{}, err
		}
	case kind == strictjson.Array:
		if flat, shape, err = numbers(raw, pr.keep, maxPubElements*max(np, 1)); err != nil {
			return Bindings{}, err
		}
	default:
		return Bindings{}, errors.New("must be a list, an object or an ndarray")
	}
	if np == 0 {
		if count := prod(shape); len(shape) == 0 || count != 0 {
			return Bindings{}, fmt.Errorf("the circuit has no parameters but %d values were given", count)
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
	if b.Size() > maxPubElements {
		return Bindings{}, fmt.Errorf("%d parameter bindings, at most %d are allowed", b.Size(), maxPubElements)
	}
	for i := 0; i < len(flat); i += np {
		b.Values = append(b.Values, flat[i:i+np])
	}
	return b, nil
}

func (pr pubReader) bindingsFromMap(raw []byte, params []string) (Bindings, error) {
	var shape []int
	known := make(map[string]bool, len(params))
	for _, p := range params {
		known[p] = true
	}
	columns := make(map[string][]float64, len(params))
	var extra []string
	err := strictjson.Members(raw, func(name string, v []byte) error {
		if !known[name] {
			if len(extra) < 10 { // enough to name
				extra = append(extra, name)
			}
			return nil
		}
		flat, s, err := numbers(v, pr.keep, maxPubElements)
		if err != nil {
			return fmt.Errorf("parameter %q: %w", name, err)
		}
		if len(columns) > 0 && !slices.Equal(s, shape) {
			return fmt.Errorf("parameter %q has shape %v, others have %v", name, s, shape)
		}
		shape, columns[name] = s, flat
		return nil
	})
	if err != nil {
		return Bindings{}, err
	}
	for _, name := range params {
		if _, ok := columns[name]; !ok {
			return Bindings{}, fmt.Errorf("no value for parameter %q", name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return Bindings{}, fmt.Errorf("the circuit has no parameters named %s", strings.Join(extra, ", "))
	}
	b := Bindings{Shape: shape}
	if b.Size() > maxPubElements {
		return Bindings{}, fmt.Errorf("%d parameter bindings, at most %d are allowed", b.Size(), maxPubElements)
	}
	if !pr.keep {
		return b, nil
	}
	for i := 0; i < b.Size(); i++ {
		row := make([]float64, len(params))
		for k, name := range params {
			row[k] = columns[name][i]
		}
		b.Values = append(b.Values, row)
	}
	return b, nil
}

// observables accepts a Pauli string, a {Pauli string: coefficient}
// object, or nested lists of those. It also returns the qubits the
// observables measure (a Pauli other than I on them), which are in use
// even where no gate touches them.
func (pr pubReader) observables(raw []byte, numQubits int) (*Observables, []int, error) {
	obs := &Observables{}
	measured := make([]bool, numQubits)
	leaves := 0
	var walk func(raw []byte, depth int) error
	walk = func(raw []byte, depth int) error {
		if depth > maxArrayDepth {
			return fmt.Errorf("observables nested deeper than %d", maxArrayDepth)
		}
		if strictjson.Kind(raw) == strictjson.Array {
			n := 0
			if err := strictjson.Elements(raw, func([]byte) error { n++; return nil }); err != nil {
				return err
			}
			if depth == len(obs.Shape) {
				if leaves > 0 {
					return errors.New("ragged observables list")
				}
				obs.Shape = append(obs.Shape, n)
			} else if depth > len(obs.Shape) || obs.Shape[depth] != n {
				return errors.New("ragged observables list")
			}
			return strictjson.Elements(raw, func(e []byte) error { return walk(e, depth+1) })
		}
		if depth != len(obs.Shape) {
			return errors.New("ragged observables list")
		}
		if leaves++; leaves > maxPubElements {
			return fmt.Errorf("more than %d observables, at most %d are allowed", maxPubElements, maxPubElements)
		}
		terms, err := observable(raw, numQubits)
		if err != nil {
			return err
		}
		for _, t := range terms {
			for i := range len(t.Label) {
				if t.Label[i] != 'I' {
					measured[len(t.Label)-1-i] = true
				}
			}
		}
		if pr.keep {
			obs.Terms = append(obs.Terms, terms)
		}
		return nil
	}
	if err := walk(raw, 0); err != nil {
		return nil, nil, err
	}
	if leaves == 0 {
		return nil, nil, errors.New("no observables given")
	}
	var qubits []int
	for q, on := range measured {
		if on {
			qubits = append(qubits, q)
		}
	}
	return obs, qubits, nil
}

// union returns the sorted union of two sorted lists of qubits.
func union(a, b []int) []int {
	out := make([]int, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || len(a) > 0 && a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || b[0] < a[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return out
}

func observable(raw []byte, numQubits int) ([]PauliTerm, error) {
	var label string
	if strictjson.Kind(raw) == strictjson.String && strictjson.Unmarshal(raw, &label, false) == nil {
		return []PauliTerm{{label, 1}}, checkPauli(label, numQubits)
	}
	var terms []PauliTerm
	err := strictjson.Members(raw, func(l string, v []byte) error {
		var c float64
		if strictjson.Kind(v) != strictjson.Number || strictjson.Unmarshal(v, &c, false) != nil {
			return errors.New("an observable must be a Pauli string or a {Pauli string: coefficient} object")
		}
		if err := checkPauli(l, numQubits); err != nil {
			return err
		}
		terms = append(terms, PauliTerm{l, c})
		return nil
	})
	switch {
	case strictjson.Kind(raw) != strictjson.Object:
		return nil, errors.New("an observable must be a Pauli string or a {Pauli string: coefficient} object")
	case err != nil:
		return nil, err
	case len(terms) == 0:
		return nil, errors.New("an observable must have at least one term")
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i].Label < terms[j].Label })
	return terms, nil
}

func checkPauli(label string, numQubits int) error {
	if len(label) != numQubits {
		return fmt.Errorf("the Pauli string %q has %d characters, the circuit has %d qubits", label, len(label), numQubits)
	}
	if i := strings.IndexFunc(label, func(r rune) bool { return !strings.ContainsRune("IXYZ", r) }); i >= 0 {
		return fmt.Errorf("the Pauli string %q has %q at position %d (only I, X, Y, Z)", label, label[i], i)
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
