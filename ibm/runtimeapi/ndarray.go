package runtimeapi

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/qgov/qgov/circuit"
	"github.com/qgov/qgov/internal/strictjson"
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

// maxNpyHeader bounds a .npy header.
const maxNpyHeader = 64 << 10

// readNpyHeader reads a NumPy .npy header (format 1.x to 3.x) from r,
// leaving r at the array's data; it returns the dtype descriptor and the
// shape.
func readNpyHeader(r io.Reader) (descr string, shape []int, err error) {
	var pre [12]byte
	if _, err := io.ReadFull(r, pre[:10]); err != nil || string(pre[:6]) != npyMagic {
		return "", nil, errors.New("not a .npy array (bad magic)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		hlen = int(binary.LittleEndian.Uint16(pre[8:10]))
	case 2, 3:
		if _, err := io.ReadFull(r, pre[10:12]); err != nil {
			return "", nil, errors.New("truncated .npy header")
		}
		hlen = int(binary.LittleEndian.Uint32(pre[8:12]))
	default:
		return "", nil, fmt.Errorf("unsupported .npy version %d", pre[6])
	}
	if hlen > maxNpyHeader {
		return "", nil, fmt.Errorf(".npy header of %d bytes is longer than %d", hlen, maxNpyHeader)
	}
	raw := make([]byte, hlen)
	if _, err := io.ReadFull(r, raw); err != nil {
		return "", nil, errors.New("truncated .npy header")
	}
	return parseNpyHeader(string(raw))
}

// parseNpyHeader reads a .npy header exactly as np.save writes it, a
// Python dict literal of 'descr', 'fortran_order' and 'shape', each once,
// padded with spaces and a newline. Anything else is refused, so that no
// header reads one way here and another in NumPy (which keeps the last of
// a key written twice).
func parseNpyHeader(h string) (descr string, shape []int, err error) {
	bad := fmt.Errorf("a .npy header other than np.save writes: %.80q", h)
	rest := strings.TrimRight(h, " \n")
	if !strings.HasPrefix(rest, "{") || !strings.HasSuffix(rest, "}") {
		return "", nil, bad
	}
	rest = strings.TrimSpace(rest[1 : len(rest)-1])
	seen := map[string]bool{}
	for rest != "" {
		key, value, err := npyItem(&rest)
		if err != nil || seen[key] {
			return "", nil, bad
		}
		seen[key] = true
		switch key {
		case "descr":
			if descr, err = npyString(value); err != nil {
				return "", nil, bad
			}
		case "fortran_order":
			if value == "True" {
				return "", nil, errors.New("fortran-ordered arrays are not supported")
			}
			if value != "False" {
				return "", nil, bad
			}
		case "shape":
			if shape, err = npyShape(value); err != nil {
				return "", nil, err
			}
		default:
			return "", nil, bad
		}
	}
	if len(seen) != 3 {
		return "", nil, bad
	}
	return descr, shape, nil
}

// npyItem takes one "'key': value," from the front of rest.
func npyItem(rest *string) (key, value string, err error) {
	k, v, ok := strings.Cut(*rest, ":")
	if !ok {
		return "", "", errors.New("no ':'")
	}
	if key, err = npyString(strings.TrimSpace(k)); err != nil {
		return "", "", err
	}
	v = strings.TrimSpace(v)
	end := strings.IndexByte(v, ',')
	if strings.HasPrefix(v, "(") {
		end = strings.IndexByte(v, ')') + 1
		if end == 0 {
			return "", "", errors.New("unclosed tuple")
		}
		if next := strings.TrimSpace(v[end:]); next != "" && !strings.HasPrefix(next, ",") {
			return "", "", errors.New("junk after a tuple")
		}
	}
	if end < 0 {
		value, *rest = v, ""
		return key, value, nil
	}
	value = strings.TrimSpace(v[:end])
	*rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v[end:]), ","))
	return key, value, nil
}

// npyString reads a quoted Python string without escapes.
func npyString(s string) (string, error) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] || strings.ContainsAny(s[1:len(s)-1], "'\"\\") {
		return "", errors.New("not a plain string")
	}
	return s[1 : len(s)-1], nil
}

// npyShape reads a shape tuple of non-negative integers.
func npyShape(s string) ([]int, error) {
	if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("bad .npy shape %q", s)
	}
	var shape []int
	count := 1
	fields := strings.Split(s[1:len(s)-1], ",")
	for i, f := range fields {
		if f = strings.TrimSpace(f); f == "" {
			if i == len(fields)-1 && i > 0 {
				continue // (3,)
			}
			if len(fields) == 1 {
				break // ()
			}
			return nil, fmt.Errorf("bad .npy shape %q", s)
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 || d > 1<<24 {
			return nil, fmt.Errorf("bad .npy shape %q", s)
		}
		shape = append(shape, d)
		if count *= d; count > 1<<26 {
			return nil, errors.New(".npy array is too large")
		}
	}
	return shape, nil
}

// DecodeNpy parses a NumPy .npy file (format 1.x to 3.x) and returns its
// dtype descriptor, shape and raw C-ordered data.
func DecodeNpy(b []byte) (descr string, shape []int, data []byte, err error) {
	r := bytes.NewReader(b)
	if descr, shape, err = readNpyHeader(r); err != nil {
		return "", nil, nil, err
	}
	return descr, shape, b[len(b)-r.Len():], nil
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

// inflate streams the RuntimeEncoder's binary values, base64 of zlib
// data, out of a JSON string's text without copying it; the reader of
// the stream draws its inflated bytes from the job's budget.
func inflate(value []byte) (io.Reader, error) {
	text, err := strictjson.Text(value)
	if err != nil {
		return nil, errors.New("not a base64 string")
	}
	if !isBase64(text) {
		return nil, errors.New("not base64 (standard alphabet, padded)")
	}
	zr, err := zlib.NewReader(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(text)))
	if err != nil {
		return nil, fmt.Errorf("not zlib-compressed: %w", err)
	}
	return zr, nil
}

// isBase64 reports whether text is padded standard base64, which then
// decodes without error.
func isBase64(text []byte) bool {
	if len(text)%4 != 0 {
		return false
	}
	pad := len(text) - len(bytes.TrimRight(text, "="))
	if pad > 2 {
		return false
	}
	for _, c := range text[:len(text)-pad] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// npySizes are the bytes per element of the dtypes read.
var npySizes = map[string]int{"<f8": 8, "<f4": 4, "<i8": 8, "<i4": 4, "|u1": 1, "|i1": 1, "|b1": 1}

// DecodeNdarrayFloat decodes a tagged ndarray value (a base64 zlib npy
// string, or a plain nested list) into float64 values and their shape.
func DecodeNdarrayFloat(value []byte) ([]float64, []int, error) {
	return pubReader{keep: true, budget: circuit.NewBudget(circuit.DefaultLimits)}.ndarray(value)
}

// ndarray reads a tagged ndarray's value: its shape, and with keep its
// values as float64.
func (pr pubReader) ndarray(value []byte) ([]float64, []int, error) {
	if strictjson.Kind(value) != strictjson.String {
		flat, shape, err := numbers(value, pr.keep, 1<<26)
		if err != nil {
			return nil, nil, fmt.Errorf("ndarray value: %w", err)
		}
		return flat, shape, nil
	}
	zr, err := inflate(value)
	if err != nil {
		return nil, nil, fmt.Errorf("ndarray value: %w", err)
	}
	r := pr.budget.Reader(zr)
	descr, shape, err := readNpyHeader(r)
	if err != nil {
		return nil, nil, err
	}
	size := npySizes[descr]
	if size == 0 {
		return nil, nil, fmt.Errorf("unsupported ndarray dtype %q", descr)
	}
	count := prod(shape)
	want := int64(count * size)
	var data []byte
	var got int64
	if pr.keep {
		data, err = io.ReadAll(io.LimitReader(r, want+1))
		got = int64(len(data))
	} else {
		got, err = io.Copy(io.Discard, r)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ndarray value: inflating: %w", err)
	}
	if got != want {
		return nil, nil, fmt.Errorf("ndarray holds %d bytes or more, shape %v of %s needs %d", got, shape, descr, want)
	}
	if !pr.keep {
		return nil, shape, nil
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

// maxArrayDepth bounds the nesting of a pub's lists (values,
// observables): NumPy arrays of a pub have a few dimensions.
const maxArrayDepth = 32

// numbers reads a nested JSON list of numbers (a number alone is shape
// ()) as its shape and, with keep, its C-ordered values; ragged lists
// are errors, and so is a list of more than maxCount numbers.
func numbers(raw []byte, keep bool, maxCount int) ([]float64, []int, error) {
	var shape []int
	for probe := raw; strictjson.Kind(probe) == strictjson.Array; {
		var first []byte
		n := 0
		_ = strictjson.Elements(probe, func(e []byte) error {
			if n == 0 {
				first = e
			}
			n++
			return nil
		})
		shape = append(shape, n)
		if len(shape) > maxArrayDepth {
			return nil, nil, fmt.Errorf("a list nested deeper than %d", maxArrayDepth)
		}
		if n == 0 {
			break
		}
		probe = first
	}
	if prod(shape) > maxCount {
		return nil, nil, fmt.Errorf("%d numbers, more than %d", prod(shape), maxCount)
	}
	var out []float64
	var walk func(x []byte, depth int) error
	walk = func(x []byte, depth int) error {
		kind := strictjson.Kind(x)
		if depth == len(shape) {
			if kind != strictjson.Number {
				return fmt.Errorf("expected a number, found %s", kindName(kind))
			}
			if keep {
				f, err := strconv.ParseFloat(string(bytes.TrimSpace(x)), 64)
				if err != nil {
					return fmt.Errorf("number %s: %w", x, err)
				}
				out = append(out, f)
			}
			return nil
		}
		n := 0
		if kind == strictjson.Array {
			if err := strictjson.Elements(x, func(e []byte) error {
				n++
				if n > shape[depth] {
					return errRagged
				}
				return walk(e, depth+1)
			}); err != nil {
				return err
			}
		}
		if kind != strictjson.Array || n != shape[depth] {
			return errRagged
		}
		return nil
	}
	if err := walk(raw, 0); err != nil {
		return nil, nil, err
	}
	return out, shape, nil
}

var errRagged = errors.New("ragged nested list (all rows must have the same length)")

func kindName(kind byte) string {
	switch kind {
	case strictjson.Null:
		return "null"
	case strictjson.String:
		return "a string"
	case strictjson.Bool:
		return "a boolean"
	case strictjson.Array:
		return "a list"
	case strictjson.Object:
		return "an object"
	}
	return "nothing"
}
