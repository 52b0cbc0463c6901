package circuit

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind classifies a lexical token of OpenQASM source.
type tokenKind int

const (
	tokEOF tokenKind = iota
	tokIdent
	tokNumber
	tokString
	tokPhysical // $n
	tokSymbol   // punctuation and operators
)

// token is one lexical token with its position (1-based line and column).
type token struct {
	kind tokenKind
	text string
	line int
	col  int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokString:
		return fmt.Sprintf("string %q", t.text)
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

// SyntaxError is a malformed-circuit error that names the line and column
// at which the problem was found.
type SyntaxError struct {
	Line, Col int
	Msg       string
	// Err is the cause, when it is one callers tell apart (ErrLimit).
	Err error
}

// Unwrap returns the cause.
func (e *SyntaxError) Unwrap() error { return e.Err }

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// twoCharSymbols are the multi-character operators the grammar uses.
var twoCharSymbols = []string{"->", "**", "==", "++"}

// lexer reads tokens from src one at a time, dropping whitespace and
// comments, so that reading a program holds only the tokens the parser
// looks ahead at, whatever the program's size.
type lexer struct {
	src       string
	i         int
	line, col int
	err       error // the first lexical error; every later token is EOF
}

func newLexer(src string) *lexer { return &lexer{src: src, line: 1, col: 1} }

func (l *lexer) advance(n int) {
	for k := 0; k < n; k++ {
		if l.src[l.i] == '\n' {
			l.line++
			l.col = 1
		} else if l.src[l.i] < utf8.RuneSelf || utf8.RuneStart(l.src[l.i]) {
			l.col++
		}
		l.i++
	}
}

// fail records a lexical error and ends the token stream.
func (l *lexer) fail(line, col int, msg string) token {
	l.err = &SyntaxError{Line: line, Col: col, Msg: msg}
	l.i = len(l.src)
	return token{tokEOF, "", line, col}
}

// next returns the next token; at the end of the source (or after an
// error) it returns EOF tokens.
func (l *lexer) next() token {
	src := l.src
	for l.i < len(src) {
		c := src[l.i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.advance(1)
		case strings.HasPrefix(src[l.i:], "//"):
			end := strings.IndexByte(src[l.i:], '\n')
			if end < 0 {
				end = len(src) - l.i
			}
			l.advance(end)
		case strings.HasPrefix(src[l.i:], "/*"):
			sl, sc := l.line, l.col
			end := strings.Index(src[l.i+2:], "*/")
			if end < 0 {
				return l.fail(sl, sc, "unterminated block comment")
			}
			l.advance(end + 4)
		case c == '"' || c == '\'':
			sl, sc := l.line, l.col
			end := strings.IndexByte(src[l.i+1:], c)
			if end < 0 || strings.ContainsRune(src[l.i+1:l.i+1+end], '\n') {
				return l.fail(sl, sc, "unterminated string")
			}
			t := token{tokString, src[l.i+1 : l.i+1+end], sl, sc}
			l.advance(end + 2)
			return t
		case c == '$':
			sl, sc := l.line, l.col
			j := l.i + 1
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j == l.i+1 {
				return l.fail(sl, sc, "expected a physical qubit number after '$'")
			}
			t := token{tokPhysical, src[l.i+1 : j], sl, sc}
			l.advance(j - l.i)
			return t
		case c >= '0' && c <= '9' || c == '.' && l.i+1 < len(src) && src[l.i+1] >= '0' && src[l.i+1] <= '9':
			sl, sc := l.line, l.col
			j := scanNumber(src, l.i)
			t := token{tokNumber, src[l.i:j], sl, sc}
			l.advance(j - l.i)
			return t
		default:
			r, size := utf8.DecodeRuneInString(src[l.i:])
			if r == '_' || unicode.IsLetter(r) {
				sl, sc := l.line, l.col
				j := l.i + size
				for j < len(src) {
					r2, s2 := utf8.DecodeRuneInString(src[j:])
					if r2 != '_' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
						break
					}
					j += s2
				}
				t := token{tokIdent, src[l.i:j], sl, sc}
				l.advance(j - l.i)
				return t
			}
			sym := string(r)
			for _, s := range twoCharSymbols {
				if strings.HasPrefix(src[l.i:], s) {
					sym = s
					break
				}
			}
			if !strings.Contains("()[]{};,=+-*/^<>@:!~&|%", sym[:1]) {
				return l.fail(l.line, l.col, fmt.Sprintf("unexpected character %q", r))
			}
			t := token{tokSymbol, sym, l.line, l.col}
			l.advance(len(sym))
			return t
		}
	}
	return token{tokEOF, "", l.line, l.col}
}

// scanNumber returns the end of the numeric literal starting at i, including
// an optional fraction, exponent and timing unit suffix (e.g. "100dt", "1.5us").
func scanNumber(src string, i int) int {
	j := i
	digits := func() {
		for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '_') {
			j++
		}
	}
	digits()
	if j < len(src) && src[j] == '.' {
		j++
		digits()
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && src[k] >= '0' && src[k] <= '9' {
			j = k
			digits()
		}
	}
	for _, unit := range []string{"dt", "ns", "us", "µs", "ms", "s"} {
		if strings.HasPrefix(src[j:], unit) {
			end := j + len(unit)
			if end >= len(src) || !isIdentRune(src[end]) {
				return end
			}
		}
	}
	return j
}

func isIdentRune(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}
