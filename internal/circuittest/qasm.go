package circuittest

import (
	"strconv"
	"strings"
)

// Nested is an OpenQASM program that defines g0 as width h gates and each
// g<i> as width calls of g<i-1>, then calls g<levels> on one qubit and
// measures it: width^(levels+1) gates as executed, from a program of a
// few hundred bytes.
func Nested(width, levels int) string {
	var b strings.Builder
	b.WriteString("OPENQASM 3.0;\nbit c;\ngate g0 q {")
	b.WriteString(strings.Repeat(" h q;", width))
	b.WriteString(" }\n")
	for i := 1; i <= levels; i++ {
		b.WriteString("gate g" + strconv.Itoa(i) + " q {")
		b.WriteString(strings.Repeat(" g"+strconv.Itoa(i-1)+" q;", width))
		b.WriteString(" }\n")
	}
	b.WriteString("g" + strconv.Itoa(levels) + " $0;\nc = measure $0;\n")
	return b.String()
}
