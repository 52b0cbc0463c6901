// Package strictjson reads JSON bodies that the gateway decides on in the
// one way every reader of them agrees on. A body passes when it is exactly
// one JSON value of valid UTF-8, no object names a member twice, no member
// name differs from a name the reader knows only by case or Unicode
// folding (which Go's decoder would take for the known name and a
// case-sensitive reader, such as Python's, would not), and nothing follows
// the value. Such a body decodes with Go's encoding/json exactly as a
// case-sensitive, duplicate-rejecting reader decodes it, so the bytes
// checked are the bytes that may be forwarded.
package strictjson

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of arrays and objects.
const MaxDepth = 128

// Error is a body that has not exactly one reading.
type Error struct {
	// Offset is the byte at which the problem was found.
	Offset int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Offset) }

// Names is a set of member names a reader knows: the JSON names of the
// fields of the structs it decodes into.
type Names struct {
	exact  map[string]bool
	folded map[string]string // fold key → the known spelling
}

// NamesOf collects the member names of the struct types reachable from
// the values' types (through pointers, slices, arrays, maps and embedded
// structs), as encoding/json names them.
func NamesOf(values ...any) *Names {
	n := &Names{exact: map[string]bool{}, folded: map[string]string{}}
	seen := map[reflect.Type]bool{}
	for _, v := range values {
		n.collect(reflect.TypeOf(v), seen)
	}
	return n
}

func (n *Names) collect(t reflect.Type, seen map[reflect.Type]bool) {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map) {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			n.collect(f.Type, seen)
			continue
		}
		if name == "" {
			name = f.Name
		}
		n.exact[name] = true
		n.folded[fold(name)] = name
		n.collect(f.Type, seen)
	}
}

// fold maps every rune to the smallest rune of its simple case-folding
// orbit, so that two strings are equal under strings.EqualFold (and so
// under encoding/json's name matching) exactly when their folds are.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

// reading is how values of one type are read: the names their type
// knows, and the members its own Skip fields name.
type reading struct {
	names   *Names
	skipped []string
}

var readings sync.Map // reflect.Type → *reading

// readingOf returns the reading of v's type, worked out once.
func readingOf(v any) *reading {
	t := reflect.TypeOf(v)
	if r, ok := readings.Load(t); ok {
		return r.(*reading)
	}
	r := &reading{names: NamesOf(v)}
	st := t
	for st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() == reflect.Struct {
		for i := range st.NumField() {
			if f := st.Field(i); f.Type == reflect.TypeFor[Skip]() && !f.Anonymous {
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				r.skipped = append(r.skipped, cmp.Or(name, f.Name))
			}
		}
	}
	got, _ := readings.LoadOrStore(t, r)
	return got.(*reading)
}

// Decode checks data against the names of v's type and decodes it into
// v; with strict, members v does not have are refused as well.
func Decode(data []byte, v any, strict bool) error {
	if err := Check(data, readingOf(v).names); err != nil {
		return err
	}
	return Unmarshal(data, v, strict)
}

// Unmarshal decodes into v data that has passed Check with names that
// include those of v's type (so encoding/json matches its members as
// Check did); with strict, members v does not have are refused. The
// members v's own Skip fields name are stepped over, not read again: a
// large value read in place with Members is read once.
func Unmarshal(data []byte, v any, strict bool) error {
	data = without(data, readingOf(v).skipped)
	var err error
	if strict {
		dec := json.NewDecoder(bytes.NewReader(data)) // buffers a copy: only bodies of known, small kinds are read so
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	} else {
		err = json.Unmarshal(data, v) // reads data in place
	}
	if err != nil {
		return describe(err)
	}
	return nil
}

// describe turns a decoding error into one that names the field.
func describe(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return &Error{Offset: int(te.Offset), Msg: fmt.Sprintf("field %q must be %s, not a JSON %s", te.Field, te.Type, te.Value)}
	case errors.As(err, &se):
		return &Error{Offset: int(se.Offset), Msg: se.Error()}
	}
	return &Error{Msg: err.Error()}
}

// Check verifies that data has exactly one reading for a reader that
// knows names (nil: none).
func Check(data []byte, names *Names) error {
	s := scanner{data: data, names: names}
	s.space()
	if err := s.value(0); err != nil {
		return err
	}
	s.space()
	if s.pos < len(s.data) {
		return s.fail("data after the JSON value")
	}
	return nil
}

type scanner struct {
	data  []byte
	pos   int
	names *Names
}

func (s *scanner) fail(format string, args ...any) error {
	return &Error{Offset: s.pos, Msg: fmt.Sprintf(format, args...)}
}

func (s *scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) value(depth int) error {
	if s.pos >= len(s.data) {
		return s.fail("unexpected end of JSON input")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		_, err := s.str(false)
		return err
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		return s.fail("invalid character %q looking for a value", c)
	}
}

func (s *scanner) literal(word string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(word)) {
		return s.fail("invalid literal, expected %s", word)
	}
	s.pos += len(word)
	return nil
}

// items walks the members of an object (object set) or the elements of
// an array whose opening bracket is at s.pos. It calls item with each
// member's name and where it starts ("" and -1 for an element), with
// s.pos at the value, which item must read.
func (s *scanner) items(object bool, item func(name string, at int) error) error {
	closer, what := byte(']'), "an array element"
	if object {
		closer, what = '}', "an object member"
	}
	s.pos++ // [ or {
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == closer {
		s.pos++
		return nil
	}
	for {
		s.space()
		name, at := "", -1
		if object {
			at = s.pos
			if at >= len(s.data) || s.data[at] != '"' {
				return s.fail("expected a member name")
			}
			var err error
			if name, err = s.str(true); err != nil {
				return err
			}
			s.space()
			if s.pos >= len(s.data) || s.data[s.pos] != ':' {
				return s.fail("expected ':' after a member name")
			}
			s.pos++
			s.space()
		}
		if err := item(name, at); err != nil {
			return err
		}
		s.space()
		if s.pos >= len(s.data) {
			return s.fail("unexpected end of JSON input")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case closer:
			s.pos++
			return nil
		default:
			return s.fail("expected ',' or '%c' after %s", closer, what)
		}
	}
}

func (s *scanner) object(depth int) error {
	if depth > MaxDepth {
		return s.fail("nesting deeper than %d", MaxDepth)
	}
	var small []string
	var seen map[string]bool
	return s.items(true, func(name string, at int) error {
		switch {
		case seen != nil && seen[name], seen == nil && slices.Contains(small, name):
			return &Error{Offset: at, Msg: fmt.Sprintf("member %q appears twice in one object", name)}
		case seen != nil:
			seen[name] = true
		case len(small) < 16:
			small = append(small, name)
		default:
			seen = map[string]bool{name: true}
			for _, n := range small {
				seen[n] = true
			}
		}
		if err := s.known(name, at); err != nil {
			return err
		}
		return s.value(depth)
	})
}

// known refuses a member name that a case-insensitive reader would take
// for a known name it is not.
func (s *scanner) known(name string, at int) error {
	if s.names == nil || s.names.exact[name] {
		return nil
	}
	if want, ok := s.names.folded[fold(name)]; ok {
		return &Error{Offset: at, Msg: fmt.Sprintf("member %q differs from %q only by case or Unicode folding; spell it %q", name, want, want)}
	}
	return nil
}

func (s *scanner) array(depth int) error {
	if depth > MaxDepth {
		return s.fail("nesting deeper than %d", MaxDepth)
	}
	return s.items(false, func(string, int) error { return s.value(depth) })
}

// str reads a string; when decode is set it returns its value.
func (s *scanner) str(decode bool) (string, error) {
	s.pos++ // opening quote
	start := s.pos
	var out []byte // the value, once an escape is met
	for {
		if s.pos >= len(s.data) {
			return "", s.fail("unterminated string")
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			var v string
			if decode {
				if out == nil {
					v = string(s.data[start:s.pos])
				} else {
					v = string(out)
				}
			}
			s.pos++
			return v, nil
		case c < 0x20:
			return "", s.fail("control character %#02x in a string", c)
		case c == '\\':
			if out == nil && decode {
				out = append([]byte(nil), s.data[start:s.pos]...)
			}
			r, err := s.escape()
			if err != nil {
				return "", err
			}
			if decode {
				out = utf8.AppendRune(out, r)
			}
		case c < utf8.RuneSelf:
			if out != nil {
				out = append(out, c)
			}
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", s.fail("invalid UTF-8 in a string")
			}
			if out != nil {
				out = append(out, s.data[s.pos:s.pos+size]...)
			}
			s.pos += size
		}
	}
}

// escape reads one escape sequence; a surrogate must be half of a pair.
func (s *scanner) escape() (rune, error) {
	if s.pos+1 >= len(s.data) {
		return 0, s.fail("unterminated escape")
	}
	c := s.data[s.pos+1]
	s.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := s.hex4()
		if err != nil {
			return 0, err
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		if r >= 0xDC00 || !bytes.HasPrefix(s.data[s.pos:], []byte(`\u`)) {
			return 0, s.fail("unpaired surrogate \\u%04X in a string", r)
		}
		s.pos += 2
		lo, err := s.hex4()
		if err != nil {
			return 0, err
		}
		if pair := utf16.DecodeRune(r, lo); pair != unicode.ReplacementChar {
			return pair, nil
		}
		return 0, s.fail("unpaired surrogate \\u%04X in a string", r)
	}
	return 0, s.fail("invalid escape \\%c in a string", c)
}

func (s *scanner) hex4() (rune, error) {
	if s.pos+4 > len(s.data) {
		return 0, s.fail("short \\u escape")
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, s.fail("invalid \\u escape")
		}
		r = r<<4 | rune(d)
	}
	s.pos += 4
	return r, nil
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	digits := func() int {
		n := 0
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	if s.data[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	case digits() == 0:
		return s.fail("invalid number")
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if digits() == 0 {
			return s.fail("invalid number: digits expected after '.'")
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if digits() == 0 {
			return s.fail("invalid number: digits expected in the exponent")
		}
	}
	return nil
}

// Members calls fn with each member of the JSON object in data, in order,
// with the member's value as a slice of data (nothing is copied). data
// should have passed Check; a value of another kind is an error.
func Members(data []byte, fn func(name string, value []byte) error) error {
	return walk(data, true, fn)
}

// Elements calls fn with each element of the JSON array in data, in
// order, as slices of data. data should have passed Check; a value of
// another kind is an error.
func Elements(data []byte, fn func(value []byte) error) error {
	return walk(data, false, func(_ string, value []byte) error { return fn(value) })
}

// walk calls fn with each item of the object or array in data.
func walk(data []byte, object bool, fn func(name string, value []byte) error) error {
	s := scanner{data: data}
	s.space()
	open, what := byte('['), "an array"
	if object {
		open, what = '{', "an object"
	}
	if s.pos >= len(data) || data[s.pos] != open {
		return s.fail("expected %s", what)
	}
	return s.items(object, func(name string, _ int) error {
		start := s.pos
		if err := s.skip(); err != nil {
			return err
		}
		return fn(name, data[start:s.pos])
	})
}

// skip moves past the value at s.pos, which Check has accepted: it only
// matches brackets and strings, so that walking a value's items reads
// each byte once.
func (s *scanner) skip() error {
	if s.pos >= len(s.data) {
		return s.fail("unexpected end of JSON input")
	}
	switch s.data[s.pos] {
	case '"':
		_, err := s.str(false)
		return err
	case '{', '[':
		depth := 0
		for s.pos < len(s.data) {
			switch s.data[s.pos] {
			case '"':
				if _, err := s.str(false); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					s.pos++
					return nil
				}
			}
			s.pos++
		}
		return s.fail("unexpected end of JSON input")
	}
	start := s.pos
	for s.pos < len(s.data) && !delimiter(s.data[s.pos]) {
		s.pos++
	}
	if s.pos == start {
		return s.fail("expected a value")
	}
	return nil
}

// without returns the object in data, which has passed Check, without
// the members named: data itself when it has none of them, else a copy
// of the others' bytes.
func without(data []byte, names []string) []byte {
	if len(names) == 0 || Kind(data) != Object {
		return data
	}
	out, found := []byte{'{'}, false
	s := scanner{data: data}
	s.space()
	err := s.items(true, func(name string, at int) error {
		if err := s.skip(); err != nil {
			return err
		}
		if slices.Contains(names, name) {
			found = true
			return nil
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, data[at:s.pos]...)
		return nil
	})
	if err != nil || !found {
		return data
	}
	return append(out, '}')
}

// delimiter reports whether c ends a number or a literal.
func delimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// Kinds of JSON values, as Kind reports them.
const (
	Object = '{'
	Array  = '['
	String = '"'
	Number = '0'
	Bool   = 't'
	Null   = 'n'
)

// Kind reports the kind of the JSON value in data: Object, Array,
// String, Number, Bool or Null; 0 when data holds none.
func Kind(data []byte) byte {
	s := scanner{data: data}
	s.space()
	if s.pos >= len(data) {
		return 0
	}
	switch c := data[s.pos]; {
	case c == '{', c == '[', c == '"', c == 'n':
		return c
	case c == 't', c == 'f':
		return Bool
	case c == '-' || c >= '0' && c <= '9':
		return Number
	}
	return 0
}

// Text returns the value of the JSON string in data: data's own bytes
// when the string has no escapes (nothing is copied), else its decoded
// value.
func Text(data []byte) ([]byte, error) {
	s := scanner{data: data}
	s.space()
	if s.pos >= len(data) || data[s.pos] != '"' {
		return nil, s.fail("expected a string")
	}
	start := s.pos + 1
	if end := bytes.IndexByte(data[start:], '"'); end >= 0 && bytes.IndexByte(data[start:start+end], '\\') < 0 {
		return data[start : start+end], nil
	}
	v, err := s.str(true)
	return []byte(v), err
}

// Skip is a field type whose JSON value is checked but not kept, for a
// member read in place with Members instead.
type Skip struct{}

// UnmarshalJSON implements json.Unmarshaler.
func (*Skip) UnmarshalJSON([]byte) error { return nil }
