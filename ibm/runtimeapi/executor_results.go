package runtimeapi

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"time"
)

// EncodeExecutorResult encodes the results of an executor job's circuit
// items as the client's QuantumProgramResultDecoder reads them (schema
// v2.0): per item, each classical register as a compressed bool tensor of
// shape (*item shape, shots, register size), bit j of the register at
// index j of the last axis, packed eight to a byte, least significant
// first; and the chunk timing of one chunk holding every item.
func EncodeExecutorResult(items []SamplerPubResult, span Span) ([]byte, error) {
	data := make([]any, len(items))
	var parts []any
	for i, it := range items {
		results := make(orderedFields, len(it.Registers))
		for k, r := range it.Registers {
			shape := append(append([]int{}, it.Shape...), it.Shots, r.NumBits)
			results[k] = field{r.Name, map[string]any{"data": boolTensor(r), "shape": shape, "dtype": "bool"}}
		}
		data[i] = map[string]any{"results": results, "metadata": map[string]any{"scheduler_timing": nil, "stretch_values": nil}}
		n := prod(it.Shape)
		parts = append(parts, map[string]any{"idx_item": i, "size": n, "permutation": []int{}, "element_range": []int{0, n, 1}})
	}
	return json.Marshal(map[string]any{
		"schema_version": "v2.0",
		"data":           data,
		"metadata": map[string]any{"chunk_timing": []any{map[string]any{
			"start": span.Start.UTC().Format(time.RFC3339Nano), "stop": span.Stop.UTC().Format(time.RFC3339Nano), "parts": parts}}},
		"passthrough_data": nil,
		"semantic_role":    nil,
	})
}

// boolTensor repacks a register's shots (each a big-endian byte string
// of the register's bits, as a BitArray holds them) into the executor's
// bool tensor: every bit in C order, eight to a byte, least significant
// first; base64 of zlib.
func boolTensor(r RegisterBits) string {
	width := r.BytesPerShot()
	shots := 0
	if width > 0 {
		shots = len(r.Array) / width
	}
	packed := make([]byte, (shots*r.NumBits+7)/8)
	for s := range shots {
		for j := range r.NumBits {
			if r.Array[s*width+width-1-j/8]>>(j%8)&1 == 1 {
				i := s*r.NumBits + j
				packed[i/8] |= 1 << (i % 8)
			}
		}
	}
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	_, _ = w.Write(packed)
	_ = w.Close()
	return base64.StdEncoding.EncodeToString(z.Bytes())
}
