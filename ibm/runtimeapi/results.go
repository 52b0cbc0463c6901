package runtimeapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// RegisterBits is one classical register's outcomes for a sampler pub:
// Array holds, for each binding and shot, ceil(NumBits/8) bytes packed
// big-endian (the last byte holds bits 0–7), as Qiskit's BitArray.
type RegisterBits struct {
	Name    string
	NumBits int
	Array   []byte
}

// BytesPerShot returns the packed size of one shot of the register.
func (r RegisterBits) BytesPerShot() int { return (r.NumBits + 7) / 8 }

// SamplerPubResult is the outcome of one sampler pub.
type SamplerPubResult struct {
	Shape     []int
	Shots     int
	Registers []RegisterBits
}

// EstimatorPubResult is the outcome of one estimator pub.
type EstimatorPubResult struct {
	Shape     []int
	Evs, Stds []float64
	Precision float64
	Shots     int
}

// Span is the execution window of a job.
type Span struct {
	Start, Stop time.Time
}

func tagged(t string, v any) Tagged { return Tagged{Type: t, Value: v} }

func datetime(t time.Time) Tagged {
	return tagged("datetime", t.UTC().Format("2006-01-02T15:04:05.999999-07:00"))
}

func shapeList(shape []int) []int {
	if shape == nil {
		return []int{}
	}
	return shape
}

// executionSpans describes one DoubleSliceSpan covering every pub: for pub
// i, the data slice (*shape, shots), all bindings and all shots.
func executionSpans(span Span, shapes [][]int, shots []int) Tagged {
	slices := map[string]any{}
	for i, shape := range shapes {
		full := append(append([]int{}, shape...), shots[i])
		slices[strconv.Itoa(i)] = []any{full, 0, prod(shape), 0, shots[i]}
	}
	return tagged("ExecutionSpans", map[string]any{"spans": []any{
		tagged("DoubleSliceSpan", map[string]any{
			"start":       datetime(span.Start),
			"stop":        datetime(span.Stop),
			"data_slices": slices,
		}),
	}})
}

// EncodeSamplerResult encodes sampler results: the tagged PrimitiveResult
// the Qiskit client decodes when qiskit is true, plain JSON otherwise.
func EncodeSamplerResult(pubs []SamplerPubResult, span Span, qiskit bool) ([]byte, error) {
	if !qiskit {
		return encodePlainSampler(pubs)
	}
	results := make([]any, len(pubs))
	shapes := make([][]int, len(pubs))
	shots := make([]int, len(pubs))
	for i, p := range pubs {
		names := make([]string, len(p.Registers))
		types := make([]string, len(p.Registers))
		fields := make(orderedFields, len(p.Registers))
		for k, r := range p.Registers {
			names[k], types[k] = r.Name, "BitArray"
			arrayShape := append(append([]int{}, p.Shape...), p.Shots, r.BytesPerShot())
			fields[k] = field{r.Name, tagged("BitArray", map[string]any{
				"array":    EncodeNdarray(DescrUint8, arrayShape, r.Array),
				"num_bits": r.NumBits,
			})}
		}
		results[i] = tagged("SamplerPubResult", map[string]any{
			"data": tagged("DataBin", map[string]any{
				"field_names": names, "field_types": types, "shape": shapeList(p.Shape), "fields": fields,
			}),
			"metadata": map[string]any{"circuit_metadata": map[string]any{}},
		})
		shapes[i], shots[i] = p.Shape, p.Shots
	}
	return json.Marshal(tagged("PrimitiveResult", map[string]any{
		"pub_results": results,
		"metadata":    map[string]any{"execution": map[string]any{"execution_spans": executionSpans(span, shapes, shots)}, "version": 2},
	}))
}

// orderedFields are a DataBin's fields in their order: the client builds
// the DataBin from the JSON object in the order it reads it, and a
// sampler's registers keep the circuit's order (join_data, the order of
// iteration), which a map's sorted keys would not.
type orderedFields []field

type field struct {
	name  string
	value any
}

// MarshalJSON writes the fields as one object, in order.
func (fs orderedFields) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(f.name)
		value, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, name...), ':'), value...)
	}
	return append(b, '}'), nil
}

// nest reshapes flat values into nested lists of the given shape; a scalar
// for shape ().
func nest[T any](flat []T, shape []int) any {
	if len(shape) == 0 {
		return flat[0]
	}
	n := len(flat) / shape[0]
	out := make([]any, shape[0])
	for i := range out {
		out[i] = nest(flat[i*n:(i+1)*n], shape[1:])
	}
	return out
}

func encodePlainSampler(pubs []SamplerPubResult) ([]byte, error) {
	results := make([]any, len(pubs))
	for i, p := range pubs {
		data := map[string]any{}
		for _, r := range p.Registers {
			width := r.BytesPerShot()
			samples := make([]string, len(r.Array)/width)
			for s := range samples {
				samples[s] = hexBits(r.Array[s*width : (s+1)*width])
			}
			data[r.Name] = map[string]any{
				"samples":  nest(samples, append(append([]int{}, p.Shape...), p.Shots)),
				"num_bits": r.NumBits,
			}
		}
		results[i] = map[string]any{"data": data, "metadata": map[string]any{"shots": p.Shots, "circuit_metadata": map[string]any{}}}
	}
	return json.Marshal(map[string]any{"results": results, "metadata": map[string]any{"version": 2}})
}

// hexBits renders big-endian packed bits as a "0x…" hex string without
// leading zeros, as IBM's plain sampler results do.
func hexBits(b []byte) string {
	s := fmt.Sprintf("%x", b)
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return "0x" + s
}

// EncodeEstimatorResult encodes estimator results (expectation values and
// their standard errors), tagged or plain as for the sampler.
func EncodeEstimatorResult(pubs []EstimatorPubResult, span Span, qiskit bool) ([]byte, error) {
	results := make([]any, len(pubs))
	shapes := make([][]int, len(pubs))
	shots := make([]int, len(pubs))
	for i, p := range pubs {
		meta := map[string]any{"target_precision": p.Precision, "shots": p.Shots, "circuit_metadata": map[string]any{}}
		if qiskit {
			shape := shapeList(p.Shape)
			results[i] = tagged("PubResult", map[string]any{
				"data": tagged("DataBin", map[string]any{
					"field_names": []string{"evs", "stds", "ensemble_standard_error"},
					"field_types": []string{"ndarray", "ndarray", "ndarray"},
					"shape":       shape,
					"fields": orderedFields{
						{"evs", EncodeNdarray(DescrFloat64, shape, Float64Bytes(p.Evs))},
						{"stds", EncodeNdarray(DescrFloat64, shape, Float64Bytes(p.Stds))},
						{"ensemble_standard_error", EncodeNdarray(DescrFloat64, shape, Float64Bytes(p.Stds))},
					},
				}),
				"metadata": meta,
			})
		} else {
			results[i] = map[string]any{
				"data":     map[string]any{"evs": nest(p.Evs, p.Shape), "stds": nest(p.Stds, p.Shape), "ensemble_standard_error": nest(p.Stds, p.Shape)},
				"metadata": meta,
			}
		}
		shapes[i], shots[i] = p.Shape, p.Shots
	}
	if !qiskit {
		return json.Marshal(map[string]any{"results": results, "metadata": map[string]any{"version": 2}})
	}
	return json.Marshal(tagged("PrimitiveResult", map[string]any{
		"pub_results": results,
		"metadata":    map[string]any{"execution": map[string]any{"execution_spans": executionSpans(span, shapes, shots)}, "version": 2},
	}))
}
