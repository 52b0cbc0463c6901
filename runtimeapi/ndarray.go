package runtimeapi

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Tagged is the RuntimeEncoder's typed value: {"__type__": T, "__value__": V}.
type Tagged struct {
	Type  string `json:"__type__"`
	Value any    `json:"__value__"`
}

// NumPy dtype descriptors used on the wire.
const (
	DescrUint8   = "|u1"
	DescrFloat64 = "<f8"
)

const npyMagic = "\x93NUMPY"

// EncodeNpy writes a NumPy .npy (format 1.0) file holding C-ordered data of
// the given dtype and shape, padded exactly as np.save pads its header.
func EncodeNpy(descr string, shape []int, data []byte) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := "(" + strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	tuple += ")"
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, tuple)
	// np.save pads with spaces and a final newline so that the data starts
	// at a multiple of 64 bytes.
	total := len(npyMagic) + 2 + 2 + len(header) + 1
	pad := (64 - total%64) % 64
	header += strings.Repeat(" ", pad) + "\n"
	var b bytes.Buffer
	b.WriteString(npyMagic)
	b.Write([]byte{1, 0})
	_ = binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

var (
	npyDescr = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	npyOrder = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	npyShape = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

// DecodeNpy parses a NumPy .npy file (format 1.x to 3.x) and returns its
// dtype descriptor, shape and raw C-ordered data.
func DecodeNpy(b []byte) (descr string, shape []int, data []byte, err error) {
	if len(b) < 10 || string(b[:6]) != npyMagic {
		return "", nil, nil, errors.New("not a .npy array (bad magic)")
	}
	var hlen, start int
	switch b[6] {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return "", nil, nil, errors.New("truncated .npy header")
		}
		hlen, start = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return "", nil, nil, fmt.Errorf("unsupported .npy version %d", b[6])
	}
	if start+hlen > len(b) {
		return "", nil, nil, errors.New("truncated .npy header")
	}
	header := string(b[start : start+hlen])
	m := npyDescr.FindStringSubmatch(header)
	if m == nil {
		return "", nil, nil, errors.New(".npy header has no descr")
	}
	descr = m[1]
	if o := npyOrder.FindStringSubmatch(header); o != nil && o[1] == "True" {
		return "", nil, nil, errors.New("fortran-ordered arrays are not supported")
	}
	s := npyShape.FindStringSubmatch(header)
	if s == nil {
		return "", nil, nil, errors.New(".npy header has no shape")
	}
	count := 1
	for _, f := range strings.Split(s[1], ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 || d > 1<<24 {
			return "", nil, nil, fmt.Errorf("bad .npy shape %q", s[1])
		}
		shape = append(shape, d)
		count *= d
		if count > 1<<26 {
			return "", nil, nil, errors.New(".npy array is too large")
		}
	}
	return descr, shape, b[start+hlen:], nil
}

// EncodeNdarray returns the tagged ndarray: base64(zlib(npy)).
func EncodeNdarray(descr string, shape []int, data []byte) Tagged {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	_, _ = w.Write(EncodeNpy(descr, shape, data))
	_ = w.Close()
	return Tagged{Type: "ndarray", Value: base64.StdEncoding.EncodeToString(z.Bytes())}
}

// Float64Bytes packs values as little-endian float64 ("<f8").
func Float64Bytes(values []float64) []byte {
	b := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return b
}

// maxInflated bounds a decompressed ndarray so a small body cannot expand
// into gigabytes.
const maxInflated = 64 << 20

// inflateBase64 decodes the RuntimeEncoder's binary values:
// base64(zlib(data)), bounded by maxInflated.
func inflateBase64(s string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not zlib-compressed: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
	if err != nil {
		return nil, fmt.Errorf("inflating: %w", err)
	}
	if len(out) > maxInflated {
		return nil, fmt.Errorf("more than %d bytes once inflated", maxInflated)
	}
	return out, nil
}

// DecodeNdarrayFloat decodes a tagged ndarray value (a base64 zlib npy
// string, or a plain nested list) into float64 values and their shape.
func DecodeNdarrayFloat(value json.RawMessage) ([]float64, []int, error) {
	var s string
	if err := json.Unmarshal(value, &s); err != nil {
		var list any
		if err := json.Unmarshal(value, &list); err != nil {
			return nil, nil, fmt.Errorf("ndarray value: %w", err)
		}
		return FlattenNumbers(list)
	}
	npy, err := inflateBase64(s)
	if err != nil {
		return nil, nil, fmt.Errorf("ndarray value: %w", err)
	}
	descr, shape, data, err := DecodeNpy(npy)
	if err != nil {
		return nil, nil, err
	}
	count := 1
	for _, d := range shape {
		count *= d
	}
	size := map[string]int{"<f8": 8, "<f4": 4, "<i8": 8, "<i4": 4, "|u1": 1, "|i1": 1, "|b1": 1}[descr]
	if size == 0 {
		return nil, nil, fmt.Errorf("unsupported ndarray dtype %q", descr)
	}
	if len(data) != count*size {
		return nil, nil, fmt.Errorf("ndarray holds %d bytes, shape %v of %s needs %d", len(data), shape, descr, count*size)
	}
	out := make([]float64, count)
	for i := range out {
		d := data[i*size:]
		switch descr {
		case "<f8":
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(d))
		case "<f4":
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(d)))
		case "<i8":
			out[i] = float64(int64(binary.LittleEndian.Uint64(d)))
		case "<i4":
			out[i] = float64(int32(binary.LittleEndian.Uint32(d)))
		case "|i1":
			out[i] = float64(int8(d[0]))
		default:
			out[i] = float64(d[0])
		}
	}
	return out, shape, nil
}

// FlattenNumbers flattens a nested JSON list of numbers (a scalar is shape
// ()) into C-ordered values and the list's shape; ragged lists are errors.
func FlattenNumbers(v any) ([]float64, []int, error) {
	var shape []int
	for probe := v; ; {
		l, ok := probe.([]any)
		if !ok {
			break
		}
		shape = append(shape, len(l))
		if len(l) == 0 {
			break
		}
		probe = l[0]
	}
	var out []float64
	var walk func(x any, depth int) error
	walk = func(x any, depth int) error {
		if depth == len(shape) {
			f, ok := x.(float64)
			if !ok {
				return fmt.Errorf("expected a number, found %s", describe(x))
			}
			out = append(out, f)
			return nil
		}
		l, ok := x.([]any)
		if !ok || len(l) != shape[depth] {
			return errors.New("ragged nested list (all rows must have the same length)")
		}
		for _, e := range l {
			if err := walk(e, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(v, 0); err != nil {
		return nil, nil, err
	}
	return out, shape, nil
}

func describe(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", x)
}
