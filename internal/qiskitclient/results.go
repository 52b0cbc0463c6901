package qiskitclient

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

type tagged struct {
	Type  string          `json:"__type__"`
	Value json.RawMessage `json:"__value__"`
}

// unwrap decodes a tagged value of the expected type into out.
func unwrap(raw json.RawMessage, typ string, out any) error {
	var t tagged
	if err := json.Unmarshal(raw, &t); err != nil {
		return fmt.Errorf("expected a tagged %s: %w", typ, err)
	}
	if t.Type != typ {
		return fmt.Errorf("expected __type__ %q, found %q", typ, t.Type)
	}
	return json.Unmarshal(t.Value, out)
}

// pubData returns the DataBin fields of pub i of a tagged PrimitiveResult.
func pubData(raw []byte, i int, pubType string) (map[string]json.RawMessage, error) {
	var result struct {
		PubResults []json.RawMessage `json:"pub_results"`
	}
	if err := unwrap(raw, "PrimitiveResult", &result); err != nil {
		return nil, err
	}
	if i >= len(result.PubResults) {
		return nil, fmt.Errorf("the result has %d pubs, not %d", len(result.PubResults), i+1)
	}
	var pub struct {
		Data json.RawMessage `json:"data"`
	}
	if err := unwrap(result.PubResults[i], pubType, &pub); err != nil {
		return nil, err
	}
	var bin struct {
		Shape  *[]int                     `json:"shape"`
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := unwrap(pub.Data, "DataBin", &bin); err != nil {
		return nil, err
	}
	if bin.Shape == nil {
		return nil, errors.New("DataBin has no shape (the client's decoder raises KeyError)")
	}
	return bin.Fields, nil
}

// SamplerCounts decodes register reg of sampler pub i from a tagged
// PrimitiveResult and counts its bitstrings as BitArray.get_counts() does
// (clbit 0 is the rightmost character). It enforces the decoder's checks:
// a uint8 npy+zlib+base64 array whose last axis is ceil(num_bits/8).
func SamplerCounts(raw []byte, i int, reg string) (map[string]int, error) {
	fields, err := pubData(raw, i, "SamplerPubResult")
	if err != nil {
		return nil, err
	}
	field, ok := fields[reg]
	if !ok {
		return nil, fmt.Errorf("pub %d has no register %q", i, reg)
	}
	var bits struct {
		Array   tagged `json:"array"`
		NumBits int    `json:"num_bits"`
	}
	if err := unwrap(field, "BitArray", &bits); err != nil {
		return nil, err
	}
	if bits.Array.Type != "ndarray" {
		return nil, fmt.Errorf("BitArray array is %q, not a tagged ndarray", bits.Array.Type)
	}
	var encoded string
	if json.Unmarshal(bits.Array.Value, &encoded) != nil {
		return nil, errors.New("BitArray array must be npy+zlib+base64 (a plain list decodes to int64)")
	}
	values, shape, err := runtimeapi.DecodeNdarrayFloat(bits.Array.Value)
	if err != nil {
		return nil, err
	}
	width := (bits.NumBits + 7) / 8
	if len(shape) < 2 || shape[len(shape)-1] != width {
		return nil, fmt.Errorf("BitArray shape %v: last axis must be %d bytes for %d bits", shape, width, bits.NumBits)
	}
	counts := map[string]int{}
	for s := 0; s < len(values); s += width {
		v := uint64(0)
		for k := 0; k < width; k++ {
			v = v<<8 | uint64(values[s+k])
		}
		if bits.NumBits < 64 {
			v &= 1<<bits.NumBits - 1
		}
		counts[fmt.Sprintf("%0*b", bits.NumBits, v)]++
	}
	return counts, nil
}

// EstimatorValues decodes the expectation values of estimator pub i from a
// tagged PrimitiveResult.
func EstimatorValues(raw []byte, i int) ([]float64, error) {
	fields, err := pubData(raw, i, "PubResult")
	if err != nil {
		return nil, err
	}
	var evs tagged
	if err := json.Unmarshal(fields["evs"], &evs); err != nil || evs.Type != "ndarray" {
		return nil, errors.New("evs is not a tagged ndarray")
	}
	values, _, err := runtimeapi.DecodeNdarrayFloat(evs.Value)
	return values, err
}
