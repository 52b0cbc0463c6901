package circuit

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/circuittest"
)

// TestDepthAsExecuted counts the calls of defined gates expanded: a
// definition cannot hide depth, and a definition whose expansion exceeds
// the bound leaves the depth unknown.
func TestDepthAsExecuted(t *testing.T) {
	inline := "OPENQASM 3.0;\nbit c;\n" + strings.Repeat("h $0;\n", 1200) + "c = measure $0;"
	wrapped := "OPENQASM 3.0;\nbit c;\ngate deep q {" + strings.Repeat(" h q;", 1200) + " }\ndeep $0;\nc = measure $0;"
	huge := circuittest.Nested(8, 7) // 8^8 = 16,777,216 gates from a few hundred bytes
	require.Less(t, len(circuittest.Nested(4, 7)), 600)
	for _, tc := range []struct {
		name  string
		src   string
		depth int
	}{
		{"inline", inline, 1201},
		{"in a definition", wrapped, 1201},
		{"nested definitions", circuittest.Nested(4, 7), 65536 + 1}, // 4^8 from a definition of under 600 bytes
		{"beyond the bound", huge, -1},
		{"qiskit's ecr is one gate", "OPENQASM 3.0;\ngate rzx(p) a, b { h b; cx a, b; rz(p) b; cx a, b; h b; }\n" +
			"gate ecr a, b { rzx(pi/4) a, b; x a; rzx(-pi/4) a, b; }\necr $0, $1;", 1},
		{"an ecr that is not the standard one", "OPENQASM 3.0;\ngate ecr a, b { h a; h a; h a; }\necr $0, $1;", 3},
		{"a standard body over a changed rzx", "OPENQASM 3.0;\ngate rzx(p) a, b { h b; h b; h b; h b; h b; h b; }\n" +
			"gate ecr a, b { rzx(pi/4) a, b; x a; rzx(-pi/4) a, b; }\necr $0, $1;", 12},
		{"a redefined standard gate", "OPENQASM 3.0;\ngate h q { x q; x q; }\nh $0;", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, keep := range []bool{true, false} {
				c, err := Reader{Budget: NewBudget(DefaultLimits), KeepOps: keep}.QASM(tc.src)
				require.NoError(t, err)
				assert.Equal(t, tc.depth, c.Facts.Depth, "keep ops %v", keep)
				assert.Equal(t, tc.depth >= 0, c.Facts.DepthKnown())
			}
		})
	}
}

// TestBudgetAcrossCircuits draws the circuits of one job from one budget:
// instructions written (definitions' calls included) and inflated bytes.
func TestBudgetAcrossCircuits(t *testing.T) {
	b := NewBudget(Limits{Instructions: 10, Expansion: 100, Bytes: 1 << 20})
	rd := Reader{Budget: b}
	_, err := rd.QASM("OPENQASM 3.0;\ngate g q { h q; h q; h q; }\ng $0; g $0;") // 3 + 2
	require.NoError(t, err)
	_, err = rd.QASM("OPENQASM 3.0;\nh $0; h $0; h $0; h $0; h $0;") // 5 more: at the bound
	require.NoError(t, err)
	_, err = rd.QASM("OPENQASM 3.0;\nh $0;")
	require.ErrorIs(t, err, ErrLimit)
	assert.ErrorContains(t, err, "more than 10 instructions")

	qpy := circuittest.Build(17, 1, 0, nil, []circuittest.Instr{{Class: "HGate", Qubits: []uint32{0}}, {Class: "HGate", Qubits: []uint32{0}}})
	_, err = Reader{Budget: NewBudget(Limits{Instructions: 1, Expansion: 1, Bytes: 1 << 20})}.QPY(bytes.NewReader(qpy))
	require.ErrorIs(t, err, ErrLimit)
	_, err = Reader{Budget: NewBudget(Limits{Instructions: 10, Expansion: 1, Bytes: 100})}.QPY(bytes.NewReader(qpy))
	require.ErrorIs(t, err, ErrLimit, "inflated bytes")
	c, err := Reader{Budget: NewBudget(Limits{Instructions: 10, Expansion: 1, Bytes: int64(len(qpy))})}.QPY(bytes.NewReader(qpy))
	require.NoError(t, err)
	assert.Nil(t, c.Ops, "facts only")
	assert.Equal(t, 2, c.Facts.Depth)
}

// TestReadingKeepsOnlyFacts reads large and hostile programs for their
// facts: what a circuit read this way holds is a few kilobytes, whatever
// its length, where keeping its operations holds them all.
func TestReadingKeepsOnlyFacts(t *testing.T) {
	manyH := "OPENQASM 3.0;\n" + strings.Repeat("h $0;", 1<<20)
	// 1M HGate instructions, zlib-compressed to a few hundred KB.
	instrs := make([]circuittest.Instr, 1<<20)
	for i := range instrs {
		instrs[i] = circuittest.Instr{Class: "HGate", Qubits: []uint32{0}}
	}
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	_, _ = w.Write(circuittest.Build(17, 1, 0, nil, instrs))
	_ = w.Close()
	compressed := z.Bytes()
	for _, tc := range []struct {
		name string
		read func(Reader) (*Circuit, error)
	}{
		{"1M gates of QASM", func(rd Reader) (*Circuit, error) { return rd.QASM(manyH) }},
		{"1M gates of QPY", func(rd Reader) (*Circuit, error) {
			zr, err := zlib.NewReader(bytes.NewReader(compressed))
			require.NoError(t, err)
			return rd.QPY(zr)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held := func(keep bool) uint64 {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				c, err := tc.read(Reader{Budget: NewBudget(DefaultLimits), KeepOps: keep})
				require.NoError(t, err)
				runtime.GC()
				runtime.ReadMemStats(&after)
				assert.Equal(t, 1<<20, c.Facts.Depth)
				runtime.KeepAlive(c)
				return after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
			}
			assert.Less(t, held(false), uint64(64<<10), "bytes held by a circuit read for its facts")
			assert.Greater(t, held(true), uint64(32<<20), "bytes held by a circuit read to simulate")
		})
	}
	_, err := Reader{Budget: NewBudget(DefaultLimits)}.QASM(strings.Repeat(";", 32<<20))
	require.ErrorContains(t, err, "expected a statement")
}

// TestHostileShapesStayCheap reads programs built to make reading slow:
// each is answered (read or refused) well within a second.
func TestHostileShapesStayCheap(t *testing.T) {
	var empty strings.Builder
	empty.WriteString("OPENQASM 3.0;\nbit c;\ngate g0 a { }\n")
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&empty, "gate g%d a { g%d a; g%d a; }\n", i, i-1, i-1)
	}
	empty.WriteString("g60 $0;\nc = measure $0;\n")
	barrier := make([]uint32, 1<<16)
	for i := range barrier {
		barrier[i] = uint32(i)
	}
	var barriers []circuittest.Instr
	for range 8 {
		barriers = append(barriers, circuittest.Instr{Class: "Barrier", Qubits: barrier})
	}
	for _, tc := range []struct {
		name string
		read func() (*Circuit, error)
		err  string
	}{
		{"2^60 calls of empty gates", func() (*Circuit, error) { return Parse(empty.String()) }, ""},
		{"a library-named gate with a million-term angle", func() (*Circuit, error) {
			return Parse("OPENQASM 3.0;\ngate rzz(theta) a, b { rz(" + strings.Repeat("1+", 1_000_000) + "1) b; }\n")
		}, "more than 1024 terms"},
		{"barriers over 65536 qubits", func() (*Circuit, error) { return ParseQPY(circuittest.Build(13, 1<<16, 0, nil, barriers)) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c, err := tc.read()
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
			} else {
				require.NoError(t, err)
				assert.LessOrEqual(t, c.Facts.Depth, 1)
			}
			assert.Less(t, time.Since(start), 2*time.Second)
		})
	}
}

func TestExpressionNesting(t *testing.T) {
	_, err := Parse("OPENQASM 3.0;\nrz(" + strings.Repeat("(", 10_000) + "1" + strings.Repeat(")", 10_000) + ") $0;")
	var se *SyntaxError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Contains(t, se.Msg, "nested deeper than")
	_, err = Parse("OPENQASM 3.0;\nrz(" + strings.Repeat("-", 10_000) + "1) $0;")
	require.ErrorContains(t, err, "nested deeper than")
}
