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
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// twoCharSymbols are the multi-character operators the grammar uses.
var twoCharSymbols = []string{"->", "**", "==", "++"}

// lex splits src into tokens, dropping whitespace and comments.
func lex(src string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	i := 0
	advance := func(n int) {
		for k := 0; k < n; k++ {
			if src[i] == '\n' {
				line++
				col = 1
			} else if src[i] < utf8.RuneSelf || utf8.RuneStart(src[i]) {
				col++
			}
			i++
		}
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			advance(1)
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				advance(1)
			}
		case strings.HasPrefix(src[i:], "/*"):
			sl, sc := line, col
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, &SyntaxError{sl, sc, "unterminated block comment"}
			}
			advance(end + 4)
		case c == '"' || c == '\'':
			sl, sc := line, col
			end := strings.IndexByte(src[i+1:], c)
			if end < 0 || strings.ContainsRune(src[i+1:i+1+end], '\n') {
				return nil, &SyntaxError{sl, sc, "unterminated string"}
			}
			toks = append(toks, token{tokString, src[i+1 : i+1+end], sl, sc})
			advance(end + 2)
		case c == '$':
			sl, sc := line, col
			j := i + 1
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j == i+1 {
				return nil, &SyntaxError{sl, sc, "expected a physical qubit number after '$'"}
			}
			toks = append(toks, token{tokPhysical, src[i+1 : j], sl, sc})
			advance(j - i)
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			sl, sc := line, col
			j := scanNumber(src, i)
			toks = append(toks, token{tokNumber, src[i:j], sl, sc})
			advance(j - i)
		default:
			r, size := utf8.DecodeRuneInString(src[i:])
			if r == '_' || unicode.IsLetter(r) {
				sl, sc := line, col
				j := i + size
				for j < len(src) {
					r2, s2 := utf8.DecodeRuneInString(src[j:])
					if r2 != '_' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
						break
					}
					j += s2
				}
				toks = append(toks, token{tokIdent, src[i:j], sl, sc})
				advance(j - i)
				continue
			}
			sym := string(r)
			for _, s := range twoCharSymbols {
				if strings.HasPrefix(src[i:], s) {
					sym = s
					break
				}
			}
			if !strings.Contains("()[]{};,=+-*/^<>@:!~&|%", sym[:1]) {
				return nil, &SyntaxError{line, col, fmt.Sprintf("unexpected character %q", r)}
			}
			toks = append(toks, token{tokSymbol, sym, line, col})
			advance(len(sym))
		}
	}
	toks = append(toks, token{tokEOF, "", line, col})
	return toks, nil
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
