package runtimeapi

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inflateNdarrays replaces every tagged ndarray's base64 value with the hex
// of its decompressed .npy bytes, so documents compare by content.
func inflateNdarrays(t *testing.T, v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x["__type__"] == "ndarray" {
			if s, ok := x["__value__"].(string); ok {
				raw, err := base64.StdEncoding.DecodeString(s)
				require.NoError(t, err)
				zr, err := zlib.NewReader(bytes.NewReader(raw))
				require.NoError(t, err)
				npy, err := io.ReadAll(zr)
				require.NoError(t, err)
				return map[string]any{"__type__": "ndarray", "npy": hex.EncodeToString(npy)}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			out[k] = inflateNdarrays(t, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = inflateNdarrays(t, e)
		}
		return out
	}
	return v
}

// TestBellGolden encodes the reference's worked example (a 2-qubit Bell
// job, outcomes 00, 11, 11, 00) and compares it with the reference text.
func TestBellGolden(t *testing.T) {
	golden, err := os.ReadFile("testdata/bell_result.json")
	require.NoError(t, err)
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	got, err := EncodeSamplerResult([]SamplerPubResult{{
		Shots:     4,
		Registers: []RegisterBits{{Name: "c", NumBits: 2, Array: []byte{0, 3, 3, 0}}},
	}}, Span{start, start.Add(time.Second)}, true)
	require.NoError(t, err)

	var want, have any
	require.NoError(t, json.Unmarshal(golden, &want))
	require.NoError(t, json.Unmarshal(got, &have))
	assert.Equal(t, inflateNdarrays(t, want), inflateNdarrays(t, have))

	// The client's empty parameter array decodes to shape (0,), and the Bell
	// array is the 132-byte npy of the reference.
	values, shape, err := DecodeNdarrayFloat(json.RawMessage(`"eJyb7BfqGxDJyFDGUK2eklqcXKRupaBuk2ahrqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ckFqQC+RoGOpo6CrUKFAAuAFOzG1s="`))
	require.NoError(t, err)
	assert.Equal(t, []int{0}, shape)
	assert.Empty(t, values)
	npy := EncodeNpy(DescrUint8, []int{4, 1}, []byte{0, 3, 3, 0})
	assert.Len(t, npy, 132)
	assert.Equal(t, "{'descr': '|u1', 'fortran_order': False, 'shape': (4, 1), }", string(bytes.TrimRight(npy[10:128], " \n")))
}

func TestPlainSamplerResult(t *testing.T) {
	got, err := EncodeSamplerResult([]SamplerPubResult{{
		Shape:     []int{2},
		Shots:     2,
		Registers: []RegisterBits{{Name: "meas", NumBits: 9, Array: []byte{0, 0, 1, 3, 0, 1, 0, 0}}},
	}}, Span{}, false)
	require.NoError(t, err)
	assert.JSONEq(t, `{"results":[{"data":{"meas":{"samples":[["0x0","0x103"],["0x1","0x0"]],"num_bits":9}},
		"metadata":{"shots":2,"circuit_metadata":{}}}],"metadata":{"version":2}}`, string(got))
}

func TestEstimatorResults(t *testing.T) {
	pubs := []EstimatorPubResult{{Shape: []int{2}, Evs: []float64{1, -0.5}, Stds: []float64{0, 0.01}, Precision: 0.015625, Shots: 4096}}
	plain, err := EncodeEstimatorResult(pubs, Span{}, false)
	require.NoError(t, err)
	assert.JSONEq(t, `{"results":[{"data":{"evs":[1,-0.5],"stds":[0,0.01],"ensemble_standard_error":[0,0.01]},
		"metadata":{"target_precision":0.015625,"shots":4096,"circuit_metadata":{}}}],"metadata":{"version":2}}`, string(plain))

	tagged, err := EncodeEstimatorResult(pubs, Span{}, true)
	require.NoError(t, err)
	var doc struct {
		Value struct {
			PubResults []struct {
				Value struct {
					Data struct {
						Value struct {
							Fields map[string]struct {
								Value json.RawMessage `json:"__value__"`
							} `json:"fields"`
						} `json:"__value__"`
					} `json:"data"`
				} `json:"__value__"`
			} `json:"pub_results"`
		} `json:"__value__"`
	}
	require.NoError(t, json.Unmarshal(tagged, &doc))
	evs, shape, err := DecodeNdarrayFloat(doc.Value.PubResults[0].Value.Data.Value.Fields["evs"].Value)
	require.NoError(t, err)
	assert.Equal(t, []int{2}, shape)
	assert.Equal(t, []float64{1, -0.5}, evs)
}

func TestNpyHeaderAlignment(t *testing.T) {
	for _, shape := range [][]int{nil, {0}, {7}, {3, 4}, {2, 3, 4096, 16}} {
		npy := EncodeNpy(DescrFloat64, shape, nil)
		hlen := int(npy[8]) | int(npy[9])<<8
		assert.Zero(t, (10+hlen)%64, "shape %v", shape)
		descr, got, _, err := DecodeNpy(npy)
		require.NoError(t, err)
		assert.Equal(t, DescrFloat64, descr)
		assert.Equal(t, len(shape), len(got))
	}
}

// TestSamplerFieldsKeepRegisterOrder: the client builds a DataBin from
// the fields in the order it reads them, so they follow the circuit's
// registers, not the alphabet.
func TestSamplerFieldsKeepRegisterOrder(t *testing.T) {
	pubs := []SamplerPubResult{{Shots: 1, Registers: []RegisterBits{
		{Name: "meas", NumBits: 1, Array: []byte{1}}, {Name: "alpha", NumBits: 1, Array: []byte{0}},
	}}}
	out, err := EncodeSamplerResult(pubs, Span{}, true)
	require.NoError(t, err)
	meas, alpha := bytes.Index(out, []byte(`"meas":{"__type__"`)), bytes.Index(out, []byte(`"alpha":{"__type__"`))
	require.Positive(t, meas)
	require.Positive(t, alpha)
	assert.Less(t, meas, alpha, "%s", out)
}
