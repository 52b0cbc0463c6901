package caddymodule

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/circuittest"
	"github.com/qgov/qgov/qiskitclient"
	"github.com/qgov/qgov/runtimeapi"
)

// clientCircuit encodes raw QPY as the Python client sends a circuit.
func clientCircuit(t *testing.T, qpy []byte) string {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	_, err := zw.Write(qpy)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return fmt.Sprintf(`{"__type__": "QuantumCircuit", "__value__": %q}`, base64.StdEncoding.EncodeToString(b.Bytes()))
}

// vector reads one of the real-encoder test vectors of the QPY reader.
func vector(t *testing.T, name string) []byte {
	data, err := os.ReadFile(filepath.Join("..", "circuit", "testdata", "qpy", name))
	require.NoError(t, err)
	return data
}

// TestRealClientJobsThroughTheGateway submits, through the demo's gateway
// and under its size limits and budgets, jobs whose circuits a real
// Qiskit release wrote (circuit/testdata/qpy/README.md): an estimator job
// on a circuit with a custom gate, and the estimator params of
// qiskit-ibm-runtime's own encoder; and a dynamic circuit, an if_else on
// a mid-circuit measurement. Each is admitted with a known size, runs on
// the simulator, and its results decode.
func TestRealClientJobsThroughTheGateway(t *testing.T) {
	d := startDemo(t)
	ctx := t.Context()
	fatima := d.client("demo-fatima-key", "QR-ml")

	custom, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(vector(t, "custom_gate_v12.b64"))))
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		params string
		pubs   int
	}{
		{"a custom gate (QPY 12, Qiskit 1.2.0)", `{"pubs": [[` + clientCircuit(t, custom) + `, "ZZZ"]], "version": 2, "support_qiskit": true}`, 1},
		{"qiskit-ibm-runtime's estimator params (QPY 14, Qiskit 2.3.0)", string(vector(t, "estimator_params_v14.json")), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job, err := fatima.Submit(ctx, runtimeapi.JobRequest{ProgramID: "estimator", Backend: "ibm_qgov_eagle",
				Tags: []string{"experiment:real-client"}, Params: json.RawMessage(tc.params)})
			require.NoError(t, err, "admitted: its size is known")
			done, err := fatima.Wait(ctx, job.ID, 20*time.Millisecond)
			require.NoError(t, err)
			require.Equal(t, runtimeapi.StatusCompleted, done.Status, done.State.Reason)
			raw, err := fatima.Results(ctx, job.ID)
			require.NoError(t, err)
			for i := range tc.pubs {
				evs, err := qiskitclient.EstimatorValues(raw, i)
				require.NoError(t, err, "pub %d", i)
				require.NotEmpty(t, evs)
				for _, v := range evs {
					assert.LessOrEqual(t, v, 1.0+1e-9)
					assert.GreaterOrEqual(t, v, -1.0-1e-9)
				}
			}
		})
	}

	t.Run("a dynamic circuit: if_else on a mid-circuit measurement", func(t *testing.T) {
		params := `{"pubs": [[` + clientCircuit(t, circuittest.Teleported(17)) + `, null, 256]], "version": 2, "support_qiskit": true}`
		job, err := fatima.Submit(ctx, runtimeapi.JobRequest{ProgramID: "sampler", Backend: "ibm_qgov_eagle", Params: json.RawMessage(params)})
		require.NoError(t, err, "admitted: its size is known")
		done, err := fatima.Wait(ctx, job.ID, 20*time.Millisecond)
		require.NoError(t, err)
		require.Equal(t, runtimeapi.StatusCompleted, done.Status, done.State.Reason)
		raw, err := fatima.Results(ctx, job.ID)
		require.NoError(t, err)
		counts, err := qiskitclient.SamplerCounts(raw, 0, "c")
		require.NoError(t, err)
		assert.Equal(t, 256, counts["00"]+counts["11"], "the block ran exactly when the measured bit was 1: %v", counts)
		assert.Positive(t, counts["00"])
		assert.Positive(t, counts["11"])
	})
}
