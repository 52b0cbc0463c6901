package simulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/runtimeapi"
)

const bell = `OPENQASM 3.0;
include "stdgates.inc";
bit[2] c;
h $0;
cx $0, $1;
c[0] = measure $0;
c[1] = measure $1;`

// taggedCounts decodes a tagged PrimitiveResult's BitArray the way
// Qiskit's BitArray.get_counts does (clbit 0 is the rightmost character).
func taggedCounts(t *testing.T, raw []byte, pub int, reg string) map[string]int {
	t.Helper()
	var doc struct {
		Type  string `json:"__type__"`
		Value struct {
			PubResults []struct {
				Value struct {
					Data struct {
						Value struct {
							Shape  []int `json:"shape"`
							Fields map[string]struct {
								Type  string `json:"__type__"`
								Value struct {
									Array struct {
										Type  string          `json:"__type__"`
										Value json.RawMessage `json:"__value__"`
									} `json:"array"`
									NumBits int `json:"num_bits"`
								} `json:"__value__"`
							} `json:"fields"`
						} `json:"__value__"`
					} `json:"data"`
				} `json:"__value__"`
			} `json:"pub_results"`
		} `json:"__value__"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc), "%s", raw)
	require.Equal(t, "PrimitiveResult", doc.Type)
	field := doc.Value.PubResults[pub].Value.Data.Value.Fields[reg]
	require.Equal(t, "BitArray", field.Type)
	require.Equal(t, "ndarray", field.Value.Array.Type)
	values, shape, err := runtimeapi.DecodeNdarrayFloat(field.Value.Array.Value)
	require.NoError(t, err)
	width := shape[len(shape)-1]
	require.Equal(t, (field.Value.NumBits+7)/8, width)
	counts := map[string]int{}
	for i := 0; i < len(values); i += width {
		v := 0
		for k := 0; k < width; k++ {
			v = v<<8 | int(values[i+k])
		}
		counts[fmt.Sprintf("%0*b", field.Value.NumBits, v&(1<<field.Value.NumBits-1))]++
	}
	return counts
}

// TestClientSession runs the calls a real qiskit-ibm-runtime session makes,
// in its order: IAM, discovery, backends, configuration, properties, usage,
// status, a Sampler job polled to completion, results, list, metrics, tags,
// logs, a batch, cancel and delete.
func TestClientSession(t *testing.T) {
	_, ts := startServer(t, Default())
	crn := DemoCRN("qr-ml")

	// IAM: a JWT with numeric iat/exp, verifiable with the published JWKS.
	status, tok := iamToken(t, ts.URL, DemoAPIKey)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "Bearer", tok["token_type"])
	parts := strings.Split(tok["access_token"].(string), ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	assert.IsType(t, float64(0), claims["iat"])
	assert.IsType(t, float64(0), claims["exp"])
	assert.InDelta(t, 3600, claims["exp"].(float64)-claims["iat"].(float64), 1)
	var jwks jose.JSONWebKeySet
	(&client{t: t, base: ts.URL}).json(http.MethodGet, "/identity/keys", nil, http.StatusOK, &jwks)
	require.Len(t, jwks.Keys, 1)
	sig, err := jose.ParseSigned(tok["access_token"].(string), []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	_, err = sig.Verify(jwks.Keys[0].Key)
	require.NoError(t, err)

	c := &client{t: t, base: ts.URL, token: tok["access_token"].(string)}

	// Instance discovery through Global Search and Global Catalog.
	var search struct {
		Items []struct {
			CRN    string         `json:"crn"`
			Name   string         `json:"name"`
			PlanID string         `json:"service_plan_unique_id"`
			Doc    map[string]any `json:"doc"`
		} `json:"items"`
		Cursor string `json:"search_cursor"`
	}
	c.json(http.MethodPost, "/global-search/v3/resources/search?limit=100",
		map[string]any{"query": "service_name:quantum-computing", "fields": []string{"crn", "service_plan_unique_id", "name", "doc", "tags"}},
		http.StatusOK, &search)
	require.Len(t, search.Items, 3)
	assert.Empty(t, search.Cursor)
	assert.Equal(t, crn, search.Items[0].CRN)
	assert.NotEmpty(t, search.Items[0].Doc["extensions"])
	var entry struct {
		OverviewUI map[string]struct {
			DisplayName string `json:"display_name"`
		} `json:"overview_ui"`
		Metadata struct {
			Pricing struct {
				Type string `json:"type"`
			} `json:"pricing"`
		} `json:"metadata"`
	}
	c.json(http.MethodGet, "/global-catalog/api/v1/"+search.Items[0].PlanID, nil, http.StatusOK, &entry)
	assert.Equal(t, "Standard", entry.OverviewUI["en"].DisplayName)
	assert.Equal(t, "Paid", entry.Metadata.Pricing.Type)

	// Backends, configuration, properties, usage and status.
	c.crn = crn
	var devices struct {
		Devices []struct {
			Name   string `json:"name"`
			Qubits int    `json:"qubits"`
			Status struct {
				Name string `json:"name"`
			} `json:"status"`
			QueueLength *int `json:"queue_length"`
		} `json:"devices"`
	}
	c.json(http.MethodGet, "/api/v1/backends", nil, http.StatusOK, &devices)
	require.Len(t, devices.Devices, 3)
	assert.Equal(t, "ibm_qgov_eagle", devices.Devices[0].Name)
	assert.Equal(t, 127, devices.Devices[0].Qubits)
	assert.Equal(t, "online", devices.Devices[0].Status.Name)
	assert.NotNil(t, devices.Devices[0].QueueLength)

	var config map[string]any
	c.json(http.MethodGet, "/api/v1/backends/ibm_qgov_eagle/configuration", nil, http.StatusOK, &config)
	assertConfiguration(t, config)
	var props map[string]any
	c.json(http.MethodGet, "/api/v1/backends/ibm_qgov_eagle/properties", nil, http.StatusOK, &props)
	assertProperties(t, props, 127)
	var usage runtimeapi.InstanceUsage
	c.json(http.MethodGet, "/api/v1/instances/usage", nil, http.StatusOK, &usage)
	assert.Equal(t, crn, usage.InstanceID)
	assert.Zero(t, usage.UsageConsumedSeconds)
	var bstatus runtimeapi.BackendStatus
	c.json(http.MethodGet, "/api/v1/backends/ibm_qgov_eagle/status", nil, http.StatusOK, &bstatus)
	assert.True(t, bstatus.State)
	assert.Equal(t, "active", bstatus.Status)

	// A Sampler job on a Bell circuit, polled to completion.
	id := c.submit("sampler", "ibm_qgov_eagle", map[string]any{
		"pubs": []any{[]any{bell, nil, nil}}, "options": map[string]any{}, "version": 2, "support_qiskit": true,
	}, nil)
	j := c.wait(id)
	require.Equal(t, runtimeapi.StatusCompleted, j.State.Status, "reason: %s", j.State.Reason)
	assert.Equal(t, "Completed", j.Status)
	assert.Equal(t, "sampler", j.Program.ID)
	assert.Nil(t, j.Params, "exclude_params=true")
	code, raw := c.do(http.MethodGet, "/api/v1/jobs/"+id+"/results", nil)
	require.Equal(t, http.StatusOK, code)
	counts := taggedCounts(t, raw, 0, "c")
	assert.Equal(t, 4096, counts["00"]+counts["11"], "only 00 and 11 occur: %v", counts)
	assert.InDelta(t, 2048, counts["00"], 5*32)

	// The job with its params; the listing with the client's filters.
	var full runtimeapi.Job
	c.json(http.MethodGet, "/api/v1/jobs/"+id, nil, http.StatusOK, &full)
	assert.NotEmpty(t, full.Params)
	var list runtimeapi.JobList
	c.json(http.MethodGet, "/api/v1/jobs?exclude_params=true&limit=10&backend=ibm_qgov_eagle&pending=false&program=sampler", nil, http.StatusOK, &list)
	require.Equal(t, 1, list.Count)
	assert.Equal(t, id, list.Jobs[0].ID)
	c.json(http.MethodGet, "/api/v1/jobs?exclude_params=true&limit=10&pending=true", nil, http.StatusOK, &list)
	assert.Equal(t, 0, list.Count)
	assert.Empty(t, list.Jobs)

	// Metrics (both usage spellings), tags (exactly 204), logs.
	var metrics runtimeapi.JobMetrics
	c.json(http.MethodGet, "/api/v1/jobs/"+id+"/metrics", nil, http.StatusOK, &metrics)
	assert.Equal(t, "final", metrics.Usage.Status)
	assert.Equal(t, 4.0, metrics.Usage.QuantumSeconds, "2 s overhead + 4096 × (circuit + 250 µs), rounded up")
	assert.Equal(t, metrics.Usage.QuantumSeconds, metrics.Usage.QPUChargeTimeSeconds)
	assert.NotNil(t, metrics.Timestamps.Running)
	code, raw = c.do(http.MethodPut, "/api/v1/jobs/"+id+"/tags", map[string]any{"tags": []string{"exp-1", "bell"}})
	require.Equal(t, http.StatusNoContent, code, "%s", raw)
	c.json(http.MethodGet, "/api/v1/jobs/"+id+"?exclude_params=true", nil, http.StatusOK, &j)
	assert.Equal(t, []string{"exp-1", "bell"}, j.Tags)
	c.json(http.MethodGet, "/api/v1/jobs?tags=bell&tags=exp-1", nil, http.StatusOK, &list)
	assert.Equal(t, 1, list.Count)
	code, raw = c.do(http.MethodGet, "/api/v1/jobs/"+id+"/logs", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(raw), "job started")
	c.json(http.MethodGet, "/api/v1/instances/usage", nil, http.StatusOK, &usage)
	assert.Equal(t, 4.0, usage.UsageConsumedSeconds)

	// A batch: two jobs in the session, then close it.
	var sess runtimeapi.Session
	c.json(http.MethodPost, "/api/v1/sessions", map[string]any{"mode": "batch", "backend": "ibm_qgov_eagle", "instance": crn, "max_ttl": 600}, http.StatusOK, &sess)
	require.NotEmpty(t, sess.ID)
	assert.Equal(t, "open", sess.State)
	params := map[string]any{"pubs": []any{[]any{bell, nil, 100}}, "version": 2, "support_qiskit": true}
	first := c.submit("sampler", "ibm_qgov_eagle", params, map[string]any{"session_id": sess.ID})
	second := c.submit("sampler", "ibm_qgov_eagle", params, map[string]any{"session_id": sess.ID})
	code, raw = c.do(http.MethodPatch, "/api/v1/sessions/"+sess.ID, map[string]any{"accepting_jobs": false})
	require.Equal(t, http.StatusNoContent, code, "%s", raw)
	assert.Equal(t, runtimeapi.StatusCompleted, c.wait(first).State.Status)
	assert.Equal(t, runtimeapi.StatusCompleted, c.wait(second).State.Status)
	c.json(http.MethodGet, "/api/v1/sessions/"+sess.ID, nil, http.StatusOK, &sess)
	assert.Equal(t, "closed", sess.State)
	assert.Equal(t, "batch", sess.Mode)
	assert.NotNil(t, sess.ActivatedAt)
	c.json(http.MethodGet, "/api/v1/jobs?session_id="+sess.ID, nil, http.StatusOK, &list)
	assert.Equal(t, 2, list.Count)
	code, raw = c.do(http.MethodPost, "/api/v1/jobs", map[string]any{"program_id": "sampler", "session_id": sess.ID, "params": params})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "session_closed", errorBody(t, raw).Code)

	// Cancel a long job, then cancelling again is a conflict; delete it.
	long := c.submit("sampler", "qgov_simulator", map[string]any{"pubs": []any{[]any{slowCircuit(20), nil, 100000}}, "version": 2}, nil)
	code, raw = c.do(http.MethodPost, "/api/v1/jobs/"+long+"/cancel", nil)
	require.Equal(t, http.StatusNoContent, code, "%s", raw)
	assert.Equal(t, runtimeapi.StatusCancelled, c.wait(long).State.Status)
	code, raw = c.do(http.MethodPost, "/api/v1/jobs/"+long+"/cancel", nil)
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, errorBody(t, raw).Message, "already Cancelled")
	code, _ = c.do(http.MethodGet, "/api/v1/jobs/"+long+"/results", nil)
	assert.Equal(t, http.StatusOK, code, "a cancelled job's results are its reason text")
	code, _ = c.do(http.MethodDelete, "/api/v1/jobs/"+long, nil)
	assert.Equal(t, http.StatusNoContent, code)
	code, raw = c.do(http.MethodGet, "/api/v1/jobs/"+long+"?exclude_params=true", nil)
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, "job_not_found", errorBody(t, raw).Code)
	code, _ = c.do(http.MethodDelete, "/api/v1/jobs/"+long, nil)
	assert.Equal(t, http.StatusNotFound, code)

	// Another instance does not see this instance's jobs.
	other := &client{t: t, base: ts.URL, token: c.token, crn: DemoCRN("qr-finance")}
	code, _ = other.do(http.MethodGet, "/api/v1/jobs/"+id, nil)
	assert.Equal(t, http.StatusNotFound, code)
}

// slowCircuit measures a qubit mid-circuit so every shot is simulated on
// its own: with many shots on n qubits it runs for a long time.
func slowCircuit(n int) string {
	var b strings.Builder
	b.WriteString("OPENQASM 3.0;\nbit[2] c;\n")
	for q := 0; q < n; q++ {
		fmt.Fprintf(&b, "h $%d;\n", q)
	}
	b.WriteString("c[0] = measure $0;\nx $0;\nc[1] = measure $0;\n")
	return b.String()
}

func assertConfiguration(t *testing.T, config map[string]any) {
	t.Helper()
	for _, key := range []string{"backend_name", "backend_version", "n_qubits", "basis_gates", "gates", "local",
		"simulator", "conditional", "open_pulse", "memory", "coupling_map", "online_date"} {
		assert.Contains(t, config, key)
	}
	allowed := map[string]bool{"name": true, "parameters": true, "qasm_def": true, "coupling_map": true,
		"latency_map": true, "conditional": true, "description": true}
	for _, g := range config["gates"].([]any) {
		for key := range g.(map[string]any) {
			assert.True(t, allowed[key], "gate entry key %q would make Qiskit reject the backend", key)
		}
	}
	_, err := time.Parse(time.RFC3339, config["online_date"].(string))
	assert.NoError(t, err)
	assert.Contains(t, config["supported_instructions"], "measure")
}

func assertProperties(t *testing.T, props map[string]any, qubits int) {
	t.Helper()
	for _, key := range []string{"backend_name", "backend_version", "last_update_date", "qubits", "gates", "general"} {
		assert.Contains(t, props, key)
	}
	units := map[string]bool{"": true, "us": true, "ns": true, "GHz": true}
	require.Len(t, props["qubits"], qubits)
	for _, q := range props["qubits"].([]any) {
		for _, p := range q.([]any) {
			m := p.(map[string]any)
			assert.True(t, units[m["unit"].(string)], "unit %q", m["unit"])
			assert.Contains(t, m, "date")
		}
	}
	for _, g := range props["gates"].([]any) {
		assert.Contains(t, g, "gate")
		assert.Contains(t, g, "qubits")
		assert.Contains(t, g, "parameters")
	}
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
			var doc struct {
				Value struct {
					PubResults []struct {
						Value struct {
							Data struct {
								Value struct {
									Fields map[string]struct {
										Value json.RawMessage `json:"__value__"`
									} `json:"fields"`
								} `json:"__value__"`
							} `json:"data"`
						} `json:"__value__"`
					} `json:"pub_results"`
				} `json:"__value__"`
			}
			require.NoError(t, json.Unmarshal(raw, &doc))
			var err error
			evs, _, err = runtimeapi.DecodeNdarrayFloat(doc.Value.PubResults[0].Value.Data.Value.Fields["evs"].Value)
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
	id := c.submit("sampler", "qgov_simulator", map[string]any{"pubs": []any{[]any{bell, nil, 8}}}, nil)
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
