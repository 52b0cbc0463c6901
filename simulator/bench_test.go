package simulator

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/qiskitclient"
)

// BenchmarkSamplerJob measures a whole Bell sampler job over HTTP as the
// client makes it: submit, poll until final, fetch and decode the results.
func BenchmarkSamplerJob(b *testing.B) {
	sim, err := New(Default())
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	defer func() { ts.Close(); sim.Close() }()
	c := &qiskitclient.Client{BaseURL: ts.URL, APIKey: DemoAPIKey, CRN: DemoCRN("qr-ml")}
	params, _ := json.Marshal(map[string]any{"pubs": []any{[]any{qiskitclient.BellCircuit, nil, 4096}}, "version": 2, "support_qiskit": true})
	ctx := b.Context()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		created, err := c.Submit(ctx, runtimeapi.JobRequest{ProgramID: "sampler", Backend: "ibm_qgov_eagle", Params: params})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Wait(ctx, created.ID, time.Millisecond); err != nil {
			b.Fatal(err)
		}
		raw, err := c.Results(ctx, created.ID)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := qiskitclient.SamplerCounts(raw, 0, "c"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
