package runtimeapi

import (
	"encoding/json"
	"os"
	"path/filepath"

	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/circuit"
)

func TestDecodeSubmission(t *testing.T) {
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	ghz := `OPENQASM 3.0; include "stdgates.inc"; bit[3] c; h $0; cx $0, $1; cx $1, $2; c[0] = measure $0; c[1] = measure $1; c[2] = measure $2;`
	for _, tc := range []struct {
		name       string
		body       string
		wantShots  int
		wantPubs   []PubSummary
		wantCode   string
		wantReason string
	}{
		{
			name:      "sampler with two pubs",
			body:      `{"program_id":"sampler","backend":"ibm_sim","tags":["exp"],"session_id":"s1","params":{"pubs":[[` + quote(bellQASM) + `,null,100],[` + quote(ghz) + `]],"version":2}}`,
			wantShots: 100 + 4096,
			wantPubs: []PubSummary{
				{Known: true, Bindings: 1, Shots: 100},
				{Known: true, Bindings: 1, Shots: 4096},
			},
		},
		{
			name:      "unreadable circuit leaves the size unknown",
			body:      `{"program_id":"sampler","params":{"pubs":[["OPENQASM 3.0; mygate q;"],["x"]]}}`,
			wantShots: -1,
			wantPubs:  []PubSummary{{}, {}},
		},
		{
			name:      "other programs are not read",
			body:      `{"program_id":"calibrate","params":{"options":{}}}`,
			wantShots: -1,
		},
		{name: "not JSON", body: `{"program_id":`, wantCode: "invalid_json", wantReason: "malformed JSON"},
		{name: "no program", body: `{"params":{}}`, wantCode: "missing_program_id", wantReason: "program_id is required"},
		{name: "bad shots", body: `{"program_id":"sampler","params":{"pubs":[[` + quote(bellQASM) + `,null,-5]]}}`, wantCode: "invalid_pubs", wantReason: "shots must be a positive integer"},
		{name: "pubs not a list", body: `{"program_id":"sampler","params":{"pubs":{"a":1}}}`, wantCode: "invalid_json", wantReason: "pubs"},
		{name: "empty tag", body: `{"program_id":"sampler","tags":[""],"params":{"pubs":[]}}`, wantCode: "invalid_tags", wantReason: "tags[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := DecodeSubmission([]byte(tc.body), circuit.DefaultLimits)
			if tc.wantCode != "" {
				require.NotNil(t, err)
				assert.Equal(t, tc.wantCode, err.Code)
				assert.Equal(t, 400, StatusOf(err.Code))
				assert.Contains(t, err.Message, tc.wantReason)
				return
			}
			require.Nil(t, err)
			assert.Equal(t, tc.wantShots, sub.Shots)
			require.Len(t, sub.Pubs, len(tc.wantPubs))
			for i, want := range tc.wantPubs {
				got := sub.Pubs[i]
				assert.Equal(t, want.Known, got.Known)
				assert.Equal(t, want.Shots, got.Shots)
				assert.Equal(t, want.Bindings, got.Bindings)
			}
		})
	}
	sub, err := DecodeSubmission([]byte(`{"program_id":"sampler","backend":"ibm_sim","tags":["exp"],"session_id":"s1","params":{"pubs":[[`+quote(ghz)+`]]}}`), circuit.DefaultLimits)
	require.Nil(t, err)
	assert.Equal(t, "ibm_sim", sub.Backend)
	assert.Equal(t, []string{"exp"}, sub.Tags)
	assert.Equal(t, "s1", sub.SessionID)
	assert.Len(t, sub.Pubs[0].Facts.ActiveQubits, 3)
	assert.Equal(t, 2, sub.Pubs[0].Facts.TwoQubitGates)
}

// TestRealClientJobs decodes job bodies and params written by the real
// client (circuit/testdata/qpy/README.md says where each comes from): the
// gateway knows each pub's size.
func TestRealClientJobs(t *testing.T) {
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("..", "..", "circuit", "testdata", "qpy", name))
		require.NoError(t, err)
		return data
	}
	sub, err := DecodeSubmission(read("sampler_if_else_v17.json"), circuit.DefaultLimits)
	require.Nil(t, err)
	require.Len(t, sub.Pubs, 1)
	assert.True(t, sub.Pubs[0].Known, "a dynamic circuit's size is known")
	assert.Equal(t, 156, sub.Pubs[0].Facts.NumQubits)
	assert.Equal(t, 3, sub.Pubs[0].Facts.Ops["if_else"])
	assert.Equal(t, 512, sub.Shots, "default_shots of its options")

	body := `{"program_id":"estimator","backend":"ibm_x","params":` + string(read("estimator_params_v14.json")) + `}`
	sub, err = DecodeSubmission([]byte(body), circuit.DefaultLimits)
	require.Nil(t, err)
	require.Len(t, sub.Pubs, 2)
	for i, p := range sub.Pubs {
		assert.True(t, p.Known, "pub %d", i)
	}
	assert.Equal(t, 1, sub.Pubs[0].Facts.TwoQubitGates)
	assert.Positive(t, sub.Shots, "shots derived from default_precision")
}
