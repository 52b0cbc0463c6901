package circuit

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/circuittest"
)

func rangeParam(start, stop, step int64) []byte {
	b := []byte{'r'}
	b = binary.BigEndian.AppendUint64(b, uint64(start))
	b = binary.BigEndian.AppendUint64(b, uint64(stop))
	return binary.BigEndian.AppendUint64(b, uint64(step))
}

// readBoth reads data as the gateway (facts) and as the simulator, each
// within DefaultLimits, and fails the test if either takes longer than
// bound.
func readBoth(t *testing.T, data []byte, bound time.Duration) (facts *Circuit, ferr error, sim *Circuit, serr error) {
	t.Helper()
	start := time.Now()
	facts, ferr = Reader{Budget: NewBudget(DefaultLimits)}.QPY(bytes.NewReader(data))
	sim, serr = ParseQPY(data)
	if serr == nil {
		_, serr = sim.Lower(nil)
	}
	assert.Less(t, time.Since(start), bound, "bounded work")
	return
}

// TestQPYAttacks are small inputs that once made the reader exhaust
// memory, the stack or the CPU: each is now refused or read within its
// budget, in both readings.
func TestQPYAttacks(t *testing.T) {
	t.Run("a program count of 2^64 with a truncated header", func(t *testing.T) {
		_, ferr, _, serr := readBoth(t, append([]byte("QISKIT\x11\x00\x00\x00"), bytes.Repeat([]byte{0xff}, 8)...), time.Second)
		assert.Error(t, ferr)
		assert.Error(t, serr)
	})
	t.Run("a custom gate defined in terms of itself", func(t *testing.T) {
		data := circuittest.BuildCustom(13, 1, 0, nil, []circuittest.Custom{{Name: "g", Qubits: 1, Definition: []circuittest.Instr{
			{Class: "XGate", Qubits: []uint32{0}}, {Class: "g", Qubits: []uint32{0}},
		}}}, []circuittest.Instr{{Class: "g", Qubits: []uint32{0}}})
		_, ferr, _, serr := readBoth(t, data, 5*time.Second)
		require.Error(t, ferr)
		assert.Contains(t, ferr.Error(), "calls itself")
		assert.Error(t, serr)
	})
	t.Run("parameters passed through 22 nested definitions", func(t *testing.T) {
		const depth = 22
		var customs []circuittest.Custom
		for i := range depth {
			customs = append(customs, circuittest.Custom{Name: fmt.Sprintf("g%d", i), Qubits: 1, Definition: []circuittest.Instr{
				{Class: fmt.Sprintf("g%d", i+1), Qubits: []uint32{0}, Params: [][]byte{circuittest.ParamRef("a", 1), circuittest.ParamRef("b", 2)}},
			}})
		}
		customs = append(customs, circuittest.Custom{Name: fmt.Sprintf("g%d", depth), Qubits: 1, Definition: []circuittest.Instr{
			{Class: "Delay", Qubits: []uint32{0}, Params: [][]byte{circuittest.ParamRef("a", 1)}},
			{Class: "RZGate", Qubits: []uint32{0}, Params: [][]byte{circuittest.ParamRef("b", 2)}},
		}})
		data := circuittest.BuildCustom(13, 1, 0, nil, customs, []circuittest.Instr{
			{Class: "g0", Qubits: []uint32{0}, Params: [][]byte{circuittest.FloatParam(1), circuittest.FloatParam(2)}}})
		facts, ferr, _, _ := readBoth(t, data, 5*time.Second)
		require.NoError(t, ferr, "the gateway reads it: nesting within bounds")
		assert.Equal(t, 1, facts.Facts.Ops["g0"])
	})
	t.Run("a wide circuit of 16000 if_else", func(t *testing.T) {
		instrs := []circuittest.Instr{{Class: "Measure", Qubits: []uint32{65535}, Clbits: []uint32{65535}}}
		for range 16000 {
			instrs = append(instrs, circuittest.Instr{Class: "IfElseOp"})
		}
		facts, ferr, _, _ := readBoth(t, circuittest.Build(13, 65536, 65536, nil, instrs), 10*time.Second)
		require.NoError(t, ferr)
		assert.Equal(t, 16000, facts.Facts.Ops["if_else"])
	})
	t.Run("a for_loop of 20000 passes on a wide circuit", func(t *testing.T) {
		body := circuittest.Block(13, 0, 0, []circuittest.Instr{{Class: "IfElseOp"}})
		data := circuittest.Build(13, 65536, 65536, nil, []circuittest.Instr{
			{Class: "Measure", Qubits: []uint32{65535}, Clbits: []uint32{65535}},
			{Class: "ForLoopOp", Params: [][]byte{rangeParam(0, 20000, 1), {'z'}, body}},
		})
		_, ferr, _, _ := readBoth(t, data, 10*time.Second)
		require.NoError(t, ferr)
	})
	t.Run("a for_loop over a barrier on 65536 qubits", func(t *testing.T) {
		wide := make([]uint32, 65536)
		for i := range wide {
			wide[i] = uint32(i)
		}
		body := circuittest.Block(13, 65536, 0, []circuittest.Instr{{Class: "Barrier", Qubits: wide}})
		data := circuittest.Build(13, 65536, 0, nil, []circuittest.Instr{{Class: "ForLoopOp", Qubits: wide, Params: [][]byte{rangeParam(0, 1<<30, 1), {'z'}, body}}})
		facts, ferr, _, _ := readBoth(t, data, 20*time.Second)
		require.NoError(t, ferr)
		assert.Equal(t, -1, facts.Facts.Depth, "past the expansion bound the depth is unknown")
	})
	t.Run("a loop range whose length overflows", func(t *testing.T) {
		assert.Equal(t, 1<<23, rangeLen(-1<<62, 1<<62, 1<<40))
		assert.Equal(t, math.MaxInt32, rangeLen(math.MinInt64, math.MaxInt64, 1))
		assert.Equal(t, 3, rangeLen(5, 2, -1))
		assert.Equal(t, 3, rangeLen(math.MaxInt64, math.MinInt64, math.MinInt64+1), "2^63-1, 0, -(2^63-1)")
		assert.Zero(t, rangeLen(0, 5, -1))
	})
}

// TestWideConditions: a register wider than the 64-bit value a condition
// holds must have its other bits 0 for the condition to hold.
func TestWideConditions(t *testing.T) {
	bits := make([]int, 70)
	for i := range bits {
		bits[i] = i
	}
	c := Condition{Bits: bits, Value: 1}
	set := map[int]bool{0: true}
	assert.True(t, c.Holds(func(b int) bool { return set[b] }))
	set[65] = true
	assert.False(t, c.Holds(func(b int) bool { return set[b] }), "bit 65 is not in the value")
	assert.True(t, Condition{Bits: bits, Value: 1, Else: true}.Holds(func(b int) bool { return set[b] }))
}
