package qiskitclient

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

// bellResult is the reference's worked example: outcomes 00, 11, 11, 00.
const bellResult = `{"__type__": "PrimitiveResult", "__value__": {"pub_results": [{"__type__": "SamplerPubResult", "__value__": {
 "data": {"__type__": "DataBin", "__value__": {"field_names": ["c"], "field_types": ["BitArray"], "shape": [],
 "fields": {"c": {"__type__": "BitArray", "__value__": {"array": {"__type__": "ndarray",
 "__value__": "eJyb7BfqGxDJyFDGUK2eklqcXKRupaBeU2qorqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ckFqQC+RomOgqGmjoKtQpkAy4GZmYGAOUhG74="},
 "num_bits": 2}}}}}, "metadata": {"circuit_metadata": {}}}}], "metadata": {"version": 2}}}`

func TestSamplerCounts(t *testing.T) {
	counts, err := SamplerCounts([]byte(bellResult), 0, "c")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"00": 2, "11": 2}, counts)

	now := time.Now()
	encoded, err := runtimeapi.EncodeSamplerResult([]runtimeapi.SamplerPubResult{{
		Shots:     5,
		Registers: []runtimeapi.RegisterBits{{Name: "meas", NumBits: 10, Array: []byte{0, 1, 3, 255, 2, 0, 0, 0, 1, 0}}},
	}}, runtimeapi.Span{Start: now, Stop: now}, true)
	require.NoError(t, err)
	counts, err = SamplerCounts(encoded, 0, "meas")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"0000000001": 1, "1111111111": 1, "1000000000": 1, "0000000000": 1, "0100000000": 1}, counts)

	for _, tc := range []struct {
		name, doc, reg, msg string
	}{
		{"plain list array", strings.Replace(bellResult, `"eJyb7BfqGxDJyFDGUK2eklqcXKRupaBeU2qorqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ckFqQC+RomOgqGmjoKtQpkAy4GZmYGAOUhG74="`, `[[0],[3],[3],[0]]`, 1), "c", "plain list decodes to int64"},
		{"no shape", strings.Replace(bellResult, `"shape": [],`, ``, 1), "c", "no shape"},
		{"too many bits for one byte", strings.Replace(bellResult, `"num_bits": 2`, `"num_bits": 9`, 1), "c", "last axis must be 2 bytes"},
		{"unknown register", bellResult, "meas", `no register "meas"`},
		{"not a primitive result", `{"results": []}`, "c", "PrimitiveResult"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SamplerCounts([]byte(tc.doc), 0, tc.reg)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestEstimatorValues(t *testing.T) {
	encoded, err := runtimeapi.EncodeEstimatorResult([]runtimeapi.EstimatorPubResult{{Shape: []int{3}, Evs: []float64{1, 0.5, -1}, Stds: []float64{0, 0, 0}}}, runtimeapi.Span{}, true)
	require.NoError(t, err)
	evs, err := EstimatorValues(encoded, 0)
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 0.5, -1}, evs)
}
