package qiskitclient

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ExecutorCounts decodes a classical register of item i of an executor
// job's results as qiskit-ibm-runtime's QuantumProgramResultDecoder does
// (schema v2.0: schema_version required; each register a compressed bool
// tensor of shape (*item shape, shots, register size), packed eight to a
// byte, least significant first; chunk timing in UTC) and counts its
// outcomes over every execution, each as a bitstring with bit 0 last.
func ExecutorCounts(raw []byte, i int, reg string) (map[string]int, error) {
	var doc struct {
		SchemaVersion *string `json:"schema_version"`
		Data          []struct {
			Results  map[string]json.RawMessage `json:"results"`
			Metadata *json.RawMessage           `json:"metadata"`
		} `json:"data"`
		Metadata struct {
			ChunkTiming []struct {
				Start, Stop string
				Parts       []struct {
					IdxItem      *int  `json:"idx_item"`
					Size         *int  `json:"size"`
					Permutation  []int `json:"permutation"`
					ElementRange []int `json:"element_range"`
				} `json:"parts"`
			} `json:"chunk_timing"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	switch {
	case doc.SchemaVersion == nil:
		return nil, errors.New("schema_version missing (the decoder raises)")
	case *doc.SchemaVersion != "v2.0":
		return nil, fmt.Errorf("schema_version %q is not v2.0", *doc.SchemaVersion)
	case i >= len(doc.Data):
		return nil, fmt.Errorf("no item %d of %d", i, len(doc.Data))
	case doc.Data[i].Metadata == nil:
		return nil, fmt.Errorf("data[%d].metadata missing (required)", i)
	}
	for _, span := range doc.Metadata.ChunkTiming {
		for _, t := range []string{span.Start, span.Stop} {
			if ts, err := time.Parse(time.RFC3339Nano, t); err != nil || !strings.HasSuffix(t, "Z") || ts.IsZero() {
				return nil, fmt.Errorf("chunk time %q is not UTC RFC 3339", t)
			}
		}
		for _, p := range span.Parts {
			if p.IdxItem == nil || p.Size == nil || p.Permutation == nil || len(p.ElementRange) != 3 {
				return nil, errors.New("a chunk part needs idx_item, size, permutation and element_range")
			}
		}
	}
	var tensor struct {
		Data  string `json:"data"`
		Shape []int  `json:"shape"`
		DType string `json:"dtype"`
	}
	if err := json.Unmarshal(doc.Data[i].Results[reg], &tensor); err != nil {
		return nil, fmt.Errorf("data[%d].results[%q]: %w", i, reg, err)
	}
	if tensor.DType != "bool" || len(tensor.Shape) < 2 {
		return nil, fmt.Errorf("register %q: dtype %q and shape %v, want bool of (…, shots, bits)", reg, tensor.DType, tensor.Shape)
	}
	compressed, err := base64.StdEncoding.DecodeString(tensor.Data)
	if err != nil {
		return nil, err
	}
	zr, err := zlib.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, err
	}
	packed, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	n := 1
	for _, d := range tensor.Shape {
		n *= d
	}
	if len(packed) != (n+7)/8 {
		return nil, fmt.Errorf("register %q: %d bytes for %d bits (the schema requires exactly the packed size)", reg, len(packed), n)
	}
	width := tensor.Shape[len(tensor.Shape)-1]
	counts := map[string]int{}
	for shot := 0; shot*width < n; shot++ {
		b := make([]byte, width)
		for j := range width {
			k := shot*width + j
			b[width-1-j] = '0' + packed[k/8]>>(k%8)&1
		}
		counts[string(b)]++
	}
	return counts, nil
}
