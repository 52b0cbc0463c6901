package runtimeapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/circuit"
)

const bellQASM = "OPENQASM 3.0; include \"stdgates.inc\"; bit[2] c; h $0; cx $0, $1; c[0] = measure $0; c[1] = measure $1;"
const paramQASM = "OPENQASM 3.0; input float[64] theta; input float[64] alpha; bit[1] c; rx(theta) $0; rz(alpha) $0; c[0] = measure $0;"
const estQASM = "OPENQASM 3.0; input float[64] theta; ry(theta) $0; cx $0, $1;"

func params(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestDecodeSamplerPubs(t *testing.T) {
	// np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]) as the client encodes it.
	nd := EncodeNdarray(DescrFloat64, []int{3, 2}, Float64Bytes([]float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}))
	for _, tc := range []struct {
		name   string
		params any
		shape  []int
		shots  int
		first  map[string]float64
	}{
		{"bare circuit", map[string]any{"pubs": []any{[]any{bellQASM}}}, nil, 4096, nil},
		{"null values and shots", map[string]any{"pubs": []any{[]any{bellQASM, nil, nil}}, "version": 2, "support_qiskit": true}, nil, 4096, nil},
		{"explicit shots", map[string]any{"pubs": []any{[]any{bellQASM, nil, 500}}}, nil, 500, nil},
		{"default_shots option", map[string]any{"pubs": []any{[]any{bellQASM}}, "options": map[string]any{"default_shots": 123}}, nil, 123, nil},
		{"params-level shots", map[string]any{"pubs": []any{[]any{bellQASM}}, "shots": 77}, nil, 77, nil},
		{"empty ndarray for no parameters", map[string]any{"pubs": []any{[]any{bellQASM, EncodeNdarray(DescrFloat64, []int{0}, nil), 10}}}, nil, 10, nil},
		{"plain list in sorted parameter order", map[string]any{"pubs": []any{[]any{paramQASM, []any{1.0, 2.0}}}}, nil, 4096, map[string]float64{"alpha": 1, "theta": 2}},
		{"list of bindings", map[string]any{"pubs": []any{[]any{paramQASM, []any{[]any{1.0, 2.0}, []any{3.0, 4.0}}}}}, []int{2}, 4096, map[string]float64{"alpha": 1, "theta": 2}},
		{"name to value map", map[string]any{"pubs": []any{[]any{paramQASM, map[string]any{"theta": 1.57, "alpha": 3.14}, 500}}}, nil, 500, map[string]float64{"alpha": 3.14, "theta": 1.57}},
		{"name to array map", map[string]any{"pubs": []any{[]any{paramQASM, map[string]any{"theta": []any{1.0, 2.0, 3.0}, "alpha": []any{4.0, 5.0, 6.0}}}}}, []int{3}, 4096, map[string]float64{"alpha": 4, "theta": 1}},
		{"tagged ndarray", map[string]any{"pubs": []any{[]any{paramQASM, nd}}}, []int{3}, 4096, map[string]float64{"alpha": 0.1, "theta": 0.2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prim, err := DecodePrimitive(ProgramSampler, params(t, tc.params))
			require.Nil(t, err)
			require.Len(t, prim.Pubs, 1)
			pub := prim.Pubs[0]
			assert.Equal(t, tc.shape, pub.Shape)
			assert.Equal(t, tc.shots, pub.Shots)
			assert.Equal(t, tc.first, pub.Bindings.Map(0, pub.Circuit.Parameters))
			assert.Len(t, pub.Bindings.Values, pub.Size())
		})
	}
}

func TestDecodeEstimatorPubs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pub       []any
		shape     []int
		terms     int
		shots     int
		precision float64
	}{
		{"single string", []any{estQASM, "ZZ", []any{0.5}}, nil, 1, 4096, DefaultPrecision},
		{"weighted sum", []any{estQASM, map[string]any{"ZZ": 1.0, "XX": 0.5}, []any{0.5}}, nil, 1, 4096, DefaultPrecision},
		{"observables broadcast against bindings", []any{estQASM, []any{[]any{"ZZ"}, []any{"XX"}}, []any{[]any{0.1}, []any{0.2}, []any{0.3}}, 0.1}, []int{2, 3}, 2, 100, 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prim, err := DecodePrimitive(ProgramEstimator, params(t, map[string]any{"pubs": []any{tc.pub}}))
			require.Nil(t, err)
			pub := prim.Pubs[0]
			assert.Equal(t, tc.shape, pub.Shape)
			assert.Len(t, pub.Observables.Terms, tc.terms)
			assert.Equal(t, tc.shots, pub.Shots)
			assert.Equal(t, tc.precision, pub.Precision)
		})
	}
}

func TestDecodeBadPubs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		program string
		params  string
		msg     string
	}{
		{"malformed json", ProgramSampler, `{"pubs": [`, "params: malformed JSON"},
		{"pubs wrong type", ProgramSampler, `{"pubs": "x"}`, `field "pubs" must be`},
		{"no pubs", ProgramSampler, `{"pubs": []}`, "at least one pub"},
		{"pub not a list", ProgramSampler, `{"pubs": ["OPENQASM 3.0;"]}`, "pubs[0]: a pub must be a list"},
		{"pub too long", ProgramSampler, `{"pubs": [["a", null, 1, 2]]}`, "got more than 3 elements"},
		{"circuit not a string", ProgramSampler, `{"pubs": [[42]]}`, "must be an OpenQASM string or a tagged QuantumCircuit"},
		{"qpy circuit not base64", ProgramSampler, `{"pubs": [[{"__type__": "QuantumCircuit", "__value__": "eJy"}]]}`, "QuantumCircuit: not base64"},
		{"qpy circuit not zlib", ProgramSampler, `{"pubs": [[{"__type__": "QuantumCircuit", "__value__": "UUlTS0lU"}]]}`, "not zlib-compressed"},
		{"qpy circuit not qpy", ProgramSampler, `{"pubs": [[{"__type__": "QuantumCircuit", "__value__": "eJzzD3D1C3QM9lUw1jOwBgAZWANR"}]]}`, "not a QPY file"},
		{"malformed circuit", ProgramSampler, `{"pubs": [["OPENQASM 3.0;\nbit c;\nh $0\nc = measure $0;"]]}`, "pubs[0]: circuit: line 4, column 1"},
		{"no classical bits", ProgramSampler, `{"pubs": [["OPENQASM 3.0; h $0;"]]}`, "no classical bits"},
		{"negative shots", ProgramSampler, `{"pubs": [["` + "OPENQASM 3.0; bit c; c = measure $0;" + `", null, -5]]}`, "shots must be a positive integer"},
		{"fractional shots", ProgramSampler, `{"pubs": [["` + "OPENQASM 3.0; bit c; c = measure $0;" + `", null, 1.5]]}`, "shots must be a positive integer"},
		{"missing values", ProgramSampler, `{"pubs": [["OPENQASM 3.0; input float[64] a; bit c; rx(a) $0; c = measure $0;"]]}`, "no values were given"},
		{"wrong value count", ProgramSampler, `{"pubs": [["OPENQASM 3.0; input float[64] a; bit c; rx(a) $0; c = measure $0;", [1, 2]]]}`, "last axis must hold 1 values"},
		{"ragged values", ProgramSampler, `{"pubs": [["OPENQASM 3.0; input float[64] a; bit c; rx(a) $0; c = measure $0;", [[1], [2, 3]]]]}`, "ragged"},
		{"unknown parameter name", ProgramSampler, `{"pubs": [["OPENQASM 3.0; input float[64] a; bit c; rx(a) $0; c = measure $0;", {"a": 1, "b": 2}]]}`, "no parameters named b"},
		{"values for a parameterless circuit", ProgramSampler, `{"pubs": [["OPENQASM 3.0; bit c; c = measure $0;", [1]]]}`, "has no parameters"},
		{"version 1", ProgramSampler, `{"pubs": [], "version": 1}`, "only primitives V2"},
		{"estimator pub too short", ProgramEstimator, `{"pubs": [["OPENQASM 3.0; h $0;"]]}`, "[circuit, observables"},
		{"observable length", ProgramEstimator, `{"pubs": [["OPENQASM 3.0; h $0; h $1;", "Z"]]}`, "has 1 characters, the circuit has 2 qubits"},
		{"observable letters", ProgramEstimator, `{"pubs": [["OPENQASM 3.0; h $0;", "Q"]]}`, "only I, X, Y, Z"},
		{"measurement in estimator", ProgramEstimator, `{"pubs": [["OPENQASM 3.0; bit c; c = measure $0;", "Z"]]}`, "must not contain measurements"},
		{"non-broadcastable shapes", ProgramEstimator, `{"pubs": [["OPENQASM 3.0; input float[64] a; rx(a) $0;", ["Z", "X"], [[1], [2], [3]]]]}`, "do not broadcast"},
		{"bad precision", ProgramEstimator, `{"pubs": [["OPENQASM 3.0; h $0;", "Z", null, 0]]}`, "precision must be a positive number"},
		{"precision too fine", ProgramEstimator, `{"pubs": [["OPENQASM 3.0; h $0;", "Z", null, 1e-9]]}`, "more than 10000000"},
		{"too many shots in the job", ProgramSampler, `{"pubs": [["OPENQASM 3.0; input float[64] a; bit c; rx(a) $0; c = measure $0;", {"a": [1, 2, 3]}, 4000000]]}`, "12000000 shots"},
		{"bad ndarray", ProgramSampler, `{"pubs": [["OPENQASM 3.0; input float[64] a; bit c; rx(a) $0; c = measure $0;", {"__type__": "ndarray", "__value__": "!!"}]]}`, "not base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodePrimitive(tc.program, json.RawMessage(tc.params))
			require.NotNil(t, err)
			assert.Equal(t, http.StatusBadRequest, StatusOf(err.Code))
			assert.Contains(t, err.Message, tc.msg)
		})
	}
}

func TestDecodeJobRequest(t *testing.T) {
	req, err := DecodeJobRequest([]byte(`{"program_id":"sampler","params":{"pubs":[]},"log_level":"WARNING","backend":"ibm_x","tags":["a"],"cost":60,"future_field":1}`))
	require.Nil(t, err)
	assert.Equal(t, "ibm_x", req.Backend)
	assert.Equal(t, 60.0, *req.Cost)

	for body, msg := range map[string]string{
		`{`:                        "malformed JSON",
		`{"params":{}}`:            "program_id is required",
		`{"program_id":"sampler"}`: "params is required",
		`{"program_id":"sampler","params":{},"cost":-1}`:   "must be a positive number",
		`{"program_id":"sampler","params":{},"tags":[""]}`: "tags[0]",
		`{"program_id":"sampler","params":{}} trailing`:    "data after the JSON value",
		`{"program_id":5,"params":{}}`:                     `field "program_id" must be string`,
	} {
		_, err := DecodeJobRequest([]byte(body))
		require.NotNil(t, err, body)
		assert.Contains(t, err.Message, msg, body)
	}
}

func TestBroadcastIndex(t *testing.T) {
	out := []int{2, 3}
	var obs, vals []int
	for i := 0; i < 6; i++ {
		obs = append(obs, BroadcastIndex(i, out, []int{2, 1}))
		vals = append(vals, BroadcastIndex(i, out, []int{3}))
	}
	assert.Equal(t, []int{0, 0, 0, 1, 1, 1}, obs)
	assert.Equal(t, []int{0, 1, 2, 0, 1, 2}, vals)
}

// FuzzDecodeJob feeds arbitrary bodies through the job decoders: they
// answer every input with a result or a 400, never panic, and the
// gateway's reading (facts only, in place) agrees with the simulator's
// (everything kept) on every pub's facts and size.
func FuzzDecodeJob(f *testing.F) {
	f.Add([]byte(`{"program_id":"sampler","params":{"pubs":[["` + "OPENQASM 3.0; bit c; h $0; c = measure $0;" + `",null,10]],"version":2,"support_qiskit":true}}`))
	f.Add([]byte(`{"program_id":"estimator","params":{"pubs":[["OPENQASM 3.0; input float[64] a; rx(a) $0;",{"Z":1},[[0.1],[0.2]],0.1]]}}`))
	f.Add([]byte(`{"program_id":"sampler","params":{"pubs":[["OPENQASM 3.0; input float[64] a; bit c; rx(a) $0; c = measure $0;",{"a":[1,2]}]]}}`))
	f.Add([]byte(`{"program_id":"sampler","params":{"pubs":[["OPENQASM 3.0; gate g q { h q; h q; } bit c; g $0; c = measure $0;",[],5]]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeJobRequest(body)
		if err != nil {
			if StatusOf(err.Code) != http.StatusBadRequest {
				t.Fatalf("status %d for a bad body", StatusOf(err.Code))
			}
			return
		}
		if req.ProgramID != ProgramSampler && req.ProgramID != ProgramEstimator {
			return // not read by either
		}
		prim, err := DecodePrimitive(req.ProgramID, req.Params)
		sub, serr := DecodeSubmission(body, circuit.DefaultLimits)
		if err != nil {
			if StatusOf(err.Code) != http.StatusBadRequest {
				t.Fatalf("status %d for bad params", StatusOf(err.Code))
			}
			if serr == nil && sub.Pubs != nil && sub.Shots >= 0 {
				t.Fatalf("the gateway read params the simulator refuses (%s)", err.Message)
			}
			return
		}
		if serr != nil {
			t.Fatalf("the gateway refused what the simulator reads: %s", serr.Message)
		}
		if len(sub.Pubs) != len(prim.Pubs) {
			t.Fatalf("%d pubs read for the gateway, %d for the simulator", len(sub.Pubs), len(prim.Pubs))
		}
		for i, pub := range prim.Pubs {
			if len(pub.Bindings.Values) != pub.Bindings.Size() {
				t.Fatalf("%d bindings for shape %v", len(pub.Bindings.Values), pub.Bindings.Shape)
			}
			if got := sub.Pubs[i]; !got.Known || got.Bindings != pub.Size() || got.Shots != pub.Shots || !reflect.DeepEqual(got.Facts, pub.Facts) {
				t.Fatalf("pub %d read for the gateway as %+v, for the simulator as %+v", i, got, pub)
			}
		}
	})
}

// TestDecodeClientEstimatorPub decodes an estimator pub exactly as
// qiskit-ibm-runtime encodes it: a QPY circuit (CZ on two qubits), a list
// of observables and the empty float64 ndarray of a parameterless circuit.
func TestDecodeClientEstimatorPub(t *testing.T) {
	pub := `[{"__type__": "QuantumCircuit", "__value__": "eJwL9Az29gzhY2JmgALGgkIGrjQGDiCTiQEBQGxGmBIQkZxZlFyaWaJrYghTUl1byAhWychYyIAKGOEsNiTzsChidI5yTyxJBesvhIr9RwIwtQDCQRet"}, ` +
		`[{"YZ": 2.0, "XI": 1.0}, {"ZZ": 3.0, "XY": 4.0}], ` +
		`{"__type__": "ndarray", "__value__": "eJyb7BfqGxDJyFDGUK2eklqcXKRupaBuk2ahrqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ckFqQC+RoGOpo6CrUKFAAuAFOzG1s="}, null]`
	prim, err := DecodePrimitive(ProgramEstimator, json.RawMessage(`{"pubs": [`+pub+`], "version": 2, "support_qiskit": true}`))
	require.Nil(t, err)
	p := prim.Pubs[0]
	assert.Equal(t, []int{2}, p.Shape)
	assert.Equal(t, 2, p.Circuit.NumQubits)
	assert.Equal(t, 1, p.Facts.TwoQubitGates)
	assert.Equal(t, [][]PauliTerm{{{"XI", 1}, {"YZ", 2}}, {{"XY", 4}, {"ZZ", 3}}}, p.Observables.Terms)
	assert.Equal(t, 4096, p.Shots)
}

// TestEstimatorReadsWhatRuns counts an estimator job as it runs: its
// default_shots override its default precision, and the qubits its
// observables measure are in use even where no gate touches them.
func TestEstimatorReadsWhatRuns(t *testing.T) {
	body := `{"program_id":"estimator","params":{"pubs":[["OPENQASM 3.0; qubit[3] q; x q[0];",["ZII","IIX"]]],"options":{"default_shots":100000,"default_precision":0.5}}}`
	sub, err := DecodeSubmission([]byte(body), circuit.DefaultLimits)
	require.Nil(t, err)
	assert.Equal(t, 100000, sub.Pubs[0].Shots, "default_shots win over default_precision")
	assert.Equal(t, 2*100000, sub.Shots)
	assert.Equal(t, []int{0, 2}, sub.Pubs[0].Facts.ActiveQubits, "q[2] is measured by ZII")
	run := `{"program_id":"estimator","params":{"pubs":[["OPENQASM 3.0; qubit q; x q;","Z"]],"precision":0.1,"options":{"default_shots":100000}}}`
	sub, err = DecodeSubmission([]byte(run), circuit.DefaultLimits)
	require.Nil(t, err)
	assert.Equal(t, 100, sub.Pubs[0].Shots, "a run's precision wins over default_shots")
}

// TestUnreadableJobOfManyPubs refuses a job of more pubs than allowed
// even when its first circuit cannot be read (its size is unknown).
func TestUnreadableJobOfManyPubs(t *testing.T) {
	pubs := `["x"]` + strings.Repeat(`,0`, MaxPubs+5)
	_, err := DecodeSubmission([]byte(`{"program_id":"sampler","params":{"pubs":[`+pubs+`]}}`), circuit.DefaultLimits)
	require.NotNil(t, err)
	assert.Equal(t, "invalid_pubs", err.Code)
}
