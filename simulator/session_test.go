package simulator

import (
	"encoding/json"
	"math"
	"net/http"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/qiskitclient"
)

// TestClientSession replays a qiskit-ibm-runtime session against the
// simulator, then checks what is specific to the simulator.
func TestClientSession(t *testing.T) {
	_, ts := startServer(t, Default())
	crn := DemoCRN("qr-ml")
	qc := &qiskitclient.Client{BaseURL: ts.URL, APIKey: DemoAPIKey, CRN: crn}
	report, err := qiskitclient.Session(t.Context(), qc)
	require.NoError(t, err)
	require.Len(t, report.Instances, 3)
	assert.Equal(t, qiskitclient.Instance{CRN: crn, Name: "QR-ml", Plan: "standard", PricingType: "paid"}, report.Instances[0])
	assert.Equal(t, "ibm_qgov_eagle", report.Backend)
	assert.InDelta(t, 2048, report.Counts["00"], 5*32, "a fair Bell pair: %v", report.Counts)
	assert.Equal(t, 4.0, report.QuantumSeconds, "2 s + 4096 × (circuit + 250 µs), rounded up")

	// Issued tokens verify against the published JWKS.
	c := newClient(t, ts.URL, crn)
	var jwks jose.JSONWebKeySet
	c.json(http.MethodGet, "/identity/keys", nil, http.StatusOK, &jwks)
	require.Len(t, jwks.Keys, 1)
	sig, err := jose.ParseSignedCompact(c.token, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	_, err = sig.Verify(jwks.Keys[0].Key)
	require.NoError(t, err)

	// Usage adds up the three completed hardware jobs (4 s, 3 s, 3 s).
	var usage runtimeapi.InstanceUsage
	c.json(http.MethodGet, "/api/v1/instances/usage", nil, http.StatusOK, &usage)
	assert.Equal(t, crn, usage.InstanceID)
	assert.Equal(t, 10.0, usage.UsageConsumedSeconds)

	// Filters: pending, tags (all must match), paging.
	var list runtimeapi.JobList
	c.json(http.MethodGet, "/api/v1/jobs?pending=true", nil, http.StatusOK, &list)
	assert.Equal(t, 0, list.Count)
	assert.Empty(t, list.Jobs)
	c.json(http.MethodGet, "/api/v1/jobs?tags=qgov-session", nil, http.StatusOK, &list)
	assert.Equal(t, 1, list.Count)
	c.json(http.MethodGet, "/api/v1/jobs?tags=qgov-session&tags=other", nil, http.StatusOK, &list)
	assert.Equal(t, 0, list.Count)
	c.json(http.MethodGet, "/api/v1/jobs?limit=1&offset=1&sort=ASC", nil, http.StatusOK, &list)
	assert.Equal(t, 3, list.Count, "count ignores limit and offset")
	require.Len(t, list.Jobs, 1)
	assert.Equal(t, report.BatchJobs[0], list.Jobs[0].ID)

	// A closed batch accepts no more jobs.
	var batch runtimeapi.Job
	c.json(http.MethodGet, "/api/v1/jobs/"+report.BatchJobs[0], nil, http.StatusOK, &batch)
	assert.NotEmpty(t, batch.Params, "without exclude_params the job carries its params")
	code, raw := c.do(http.MethodPost, "/api/v1/jobs", map[string]any{"program_id": "sampler", "session_id": batch.SessionID, "params": batch.Params})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "session_closed", errorBody(t, raw).Code)

	// Another instance does not see this instance's jobs.
	other := &client{t: t, base: ts.URL, token: c.token, crn: DemoCRN("qr-finance")}
	code, _ = other.do(http.MethodGet, "/api/v1/jobs/"+report.JobID, nil)
	assert.Equal(t, http.StatusNotFound, code)
}

// TestCancelledResults answers a cancelled job's results with its reason
// as text, which the client shows for jobs that ran too long.
func TestCancelledResults(t *testing.T) {
	_, ts := startServer(t, Default())
	c := newClient(t, ts.URL, DemoCRN("qr-ml"))
	id := c.submit("sampler", "qgov_simulator", map[string]any{"pubs": []any{[]any{qiskitclient.SlowCircuit(20), nil, 100000}}}, nil)
	code, _ := c.do(http.MethodPost, "/api/v1/jobs/"+id+"/cancel", nil)
	require.Equal(t, http.StatusNoContent, code)
	assert.Equal(t, runtimeapi.StatusCancelled, c.wait(id).State.Status)
	code, raw := c.do(http.MethodGet, "/api/v1/jobs/"+id+"/results", nil)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(raw), "cancelled by the user")
}

func TestEstimatorAndPlainResults(t *testing.T) {
	_, ts := startServer(t, Default())
	c := newClient(t, ts.URL, "QR-common")
	bellNoMeasure := "OPENQASM 3.0;\ninput float[64] theta;\nry(theta) $0;\ncx $0, $1;"
	for _, qiskit := range []bool{true, false} {
		id := c.submit("estimator", "ibm_qgov_kestrel", map[string]any{
			"pubs":    []any{[]any{bellNoMeasure, []any{"ZZ", "XX", "ZI", map[string]any{"ZZ": 0.5, "IX": 2}}, []any{math.Pi / 2}}},
			"version": 2, "support_qiskit": qiskit,
		}, nil)
		require.Equal(t, runtimeapi.StatusCompleted, c.wait(id).State.Status)
		code, raw := c.do(http.MethodGet, "/api/v1/jobs/"+id+"/results", nil)
		require.Equal(t, http.StatusOK, code)
		var evs []float64
		if qiskit {
			var err error
			evs, err = qiskitclient.EstimatorValues(raw, 0)
			require.NoError(t, err)
		} else {
			var doc struct {
				Results []struct {
					Data struct {
						Evs []float64 `json:"evs"`
					} `json:"data"`
				} `json:"results"`
			}
			require.NoError(t, json.Unmarshal(raw, &doc))
			evs = doc.Results[0].Data.Evs
		}
		// ry(π/2) then CX: a Bell state; ⟨ZZ⟩ = ⟨XX⟩ = 1, ⟨ZI⟩ = ⟨IX⟩ = 0.
		require.Len(t, evs, 4)
		for i, want := range []float64{1, 1, 0, 0.5} {
			assert.InDelta(t, want, evs[i], 1e-9, "evs[%d]", i)
		}
	}

	// Plain sampler results for REST users.
	id := c.submit("sampler", "qgov_simulator", map[string]any{"pubs": []any{[]any{qiskitclient.BellCircuit, nil, 8}}}, nil)
	require.Equal(t, runtimeapi.StatusCompleted, c.wait(id).State.Status)
	var plain struct {
		Results []struct {
			Data map[string]struct {
				Samples []string `json:"samples"`
				NumBits int      `json:"num_bits"`
			} `json:"data"`
		} `json:"results"`
	}
	c.json(http.MethodGet, "/api/v1/jobs/"+id+"/results", nil, http.StatusOK, &plain)
	require.Len(t, plain.Results[0].Data["c"].Samples, 8)
	assert.Equal(t, 2, plain.Results[0].Data["c"].NumBits)
	for _, s := range plain.Results[0].Data["c"].Samples {
		assert.Contains(t, []string{"0x0", "0x3"}, s)
	}
	var metrics runtimeapi.JobMetrics
	c.json(http.MethodGet, "/api/v1/jobs/"+id+"/metrics", nil, http.StatusOK, &metrics)
	assert.Zero(t, metrics.Usage.QuantumSeconds, "simulator backends charge no quantum time")
}

func TestSeededSamplingIsReproducible(t *testing.T) {
	_, ts := startServer(t, Default())
	c := newClient(t, ts.URL, DemoCRN("qr-ml"))
	results := func(seed int) string {
		id := c.submit("sampler", "qgov_simulator", map[string]any{
			"pubs":    []any{[]any{"OPENQASM 3.0; bit[3] c; h $0; h $1; h $2; c[0] = measure $0; c[1] = measure $1; c[2] = measure $2;", nil, 50}},
			"options": map[string]any{"simulator": map[string]any{"seed_simulator": seed}},
		}, nil)
		require.Equal(t, runtimeapi.StatusCompleted, c.wait(id).State.Status)
		_, raw := c.do(http.MethodGet, "/api/v1/jobs/"+id+"/results", nil)
		var plain map[string]any
		require.NoError(t, json.Unmarshal(raw, &plain))
		samples, _ := json.Marshal(plain["results"].([]any)[0].(map[string]any)["data"])
		return string(samples)
	}
	assert.Equal(t, results(42), results(42))
	assert.NotEqual(t, results(42), results(43))
}

// TestClientEncodedPub runs an estimator pub exactly as qiskit-ibm-runtime
// encodes it (QPY circuit, observables, empty ndarray): CZ on |00⟩ leaves
// |00⟩, so ⟨XI + 2 YZ⟩ = 0 and ⟨4 XY + 3 ZZ⟩ = 3.
func TestClientEncodedPub(t *testing.T) {
	_, ts := startServer(t, Default())
	c := newClient(t, ts.URL, DemoCRN("qr-ml"))
	pub := json.RawMessage(`[{"__type__": "QuantumCircuit", "__value__": "eJwL9Az29gzhY2JmgALGgkIGrjQGDiCTiQEBQGxGmBIQkZxZlFyaWaJrYghTUl1byAhWychYyIAKGOEsNiTzsChidI5yTyxJBesvhIr9RwIwtQDCQRet"}, ` +
		`[{"YZ": 2.0, "XI": 1.0}, {"ZZ": 3.0, "XY": 4.0}], ` +
		`{"__type__": "ndarray", "__value__": "eJyb7BfqGxDJyFDGUK2eklqcXKRupaBuk2ahrqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ckFqQC+RoGOpo6CrUKFAAuAFOzG1s="}, null]`)
	id := c.submit("estimator", "ibm_qgov_eagle", map[string]any{"pubs": []any{pub}, "options": map[string]any{}, "version": 2, "support_qiskit": true}, nil)
	require.Equal(t, runtimeapi.StatusCompleted, c.wait(id).State.Status)
	code, raw := c.do(http.MethodGet, "/api/v1/jobs/"+id+"/results", nil)
	require.Equal(t, http.StatusOK, code)
	evs, err := qiskitclient.EstimatorValues(raw, 0)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.InDelta(t, 0, evs[0], 1e-12)
	assert.InDelta(t, 3, evs[1], 1e-12)
}

// TestFailedJobResults answers a failed job's results with 200 and its
// reason as text: the client reads it to build RuntimeJobFailureError.
func TestFailedJobResults(t *testing.T) {
	_, ts := startServer(t, Default())
	c := newClient(t, ts.URL, DemoCRN("qr-ml"))
	id := c.submit("sampler", "qgov_simulator", map[string]any{
		"pubs": []any{[]any{"OPENQASM 3.0;\ninput float[64] t;\nbit c;\nrx(1/t) $0;\nc = measure $0;", []any{0.0}, 10}},
	}, nil)
	j := c.wait(id)
	require.Equal(t, runtimeapi.StatusFailed, j.State.Status)
	assert.Contains(t, j.State.Reason, "division by zero")
	code, raw := c.do(http.MethodGet, "/api/v1/jobs/"+id+"/results", nil)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(raw), "line 4: division by zero")
}
