package runtimeapi

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/qgov/qgov/circuit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/internal/circuittest"
	"github.com/qgov/qgov/internal/testenv"
)

// maxSubmissions are job bodies at the gateway's limits: a 32 MiB body, or
// circuits at the default budget of 1M instructions.
func maxSubmissions(tb testing.TB) []struct {
	name string
	body []byte
} {
	n := circuit.DefaultLimits.Instructions - 8
	job := func(pub string) []byte {
		return []byte(`{"program_id":"sampler","backend":"ibm_qgov_eagle","params":{"pubs":[` + pub + `],"version":2}}`)
	}
	tagged := func(instrs []circuittest.Instr) string {
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		_, _ = w.Write(circuittest.Build(13, 1, 1, []circuittest.Reg{{Name: "c", Bits: []int64{0}}},
			append(instrs, circuittest.Instr{Class: "Measure", Qubits: []uint32{0}, Clbits: []uint32{0}})))
		_ = w.Close()
		return `[{"__type__":"QuantumCircuit","__value__":"` + base64.StdEncoding.EncodeToString(z.Bytes()) + `"},null,100]`
	}

	var qasm strings.Builder
	qasm.WriteString(`["OPENQASM 3.0; bit c; `)
	for i := range n {
		fmt.Fprintf(&qasm, "rz(0.%014d) $%d; ", i, i%60000)
	}
	qasm.WriteString(`c = measure $0;",null,100]`)

	hs := make([]circuittest.Instr, n)
	rzs := make([]circuittest.Instr, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range hs {
		hs[i] = circuittest.Instr{Class: "HGate", Qubits: []uint32{0}}
		angle := append([]byte{'f'}, binary.LittleEndian.AppendUint64(nil, math.Float64bits(rng.Float64()))...)
		rzs[i] = circuittest.Instr{Class: "RZGate", Qubits: []uint32{0}, Params: [][]byte{angle}}
	}

	var values strings.Builder
	const params, rows = 256, 60000
	values.WriteString(`["OPENQASM 3.0; bit c; `)
	for p := range params {
		fmt.Fprintf(&values, "input float[64] p%d; rz(p%d) $0; ", p, p)
	}
	values.WriteString(`c = measure $0;", [`)
	row := "[" + strings.TrimSuffix(strings.Repeat("0,", params), ",") + "]"
	values.WriteString(strings.TrimSuffix(strings.Repeat(row+",", rows), ","))
	values.WriteString(`], 1]`)

	out := []struct {
		name string
		body []byte
	}{
		{"qasm-1M-instructions", job(qasm.String())},
		{"qpy-1M-h-gates", job(tagged(hs))},
		{"qpy-1M-rz-gates", job(tagged(rzs))},
		{"values-60000x256", job(values.String())},
	}
	for _, s := range out {
		if len(s.body) > 32<<20 {
			tb.Fatalf("%s: a body of %d bytes is over the 32 MiB limit", s.name, len(s.body))
		}
	}
	return out
}

// BenchmarkDecodeMaxSubmission reads maximum-size job submissions as the
// gateway reads them (facts only, within the default circuit limits) and
// reports the body's size and the peak heap one reading takes beyond the
// body: what a gateway needs per maximum-size submission it reads at once.
func BenchmarkDecodeMaxSubmission(b *testing.B) {
	for _, s := range maxSubmissions(b) {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s.body)))
			peak := testenv.PeakHeap(func() {
				for range b.N {
					if _, err := DecodeSubmission(s.body, circuit.DefaultLimits); err != nil {
						b.Fatal(err.Message)
					}
				}
			})
			b.ReportMetric(float64(len(s.body))/(1<<20), "body-MiB")
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		})
	}
}

// TestMaxSubmissionsStayBounded reads each maximum-size submission and
// checks the peak heap of its reading stays under 64 MiB beyond its body
// (README: the memory ceiling).
func TestMaxSubmissionsStayBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("reads several 30 MiB bodies")
	}
	for _, s := range maxSubmissions(t) {
		var sub *Submission
		peak := testenv.PeakHeap(func() {
			var err *denial.Denial
			if sub, err = DecodeSubmission(s.body, circuit.DefaultLimits); err != nil {
				t.Fatalf("%s: %s", s.name, err.Message)
			}
		})
		if !sub.Pubs[0].Known || peak > 64<<20 {
			t.Errorf("%s: read %v with a peak of %d MiB beyond its body", s.name, sub.Pubs[0].Known, peak>>20)
		}
	}
}
