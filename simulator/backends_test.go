package simulator

import (
	"encoding/json"
	"net/http"

	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/qiskitclient"
)

// TestEagleLattice checks the heavy-hex lattice: 127 qubits, 144 couplings,
// degree at most 3, connected.
func TestEagleLattice(t *testing.T) {
	edges := eagleEdges()
	assert.Len(t, edges, 144)
	degree := map[int]int{}
	adj := map[int][]int{}
	for _, e := range edges {
		degree[e[0]]++
		degree[e[1]]++
		adj[e[0]] = append(adj[e[0]], e[1])
		adj[e[1]] = append(adj[e[1]], e[0])
	}
	assert.Len(t, degree, 127)
	for q, d := range degree {
		assert.LessOrEqual(t, d, 3, "qubit %d", q)
		assert.True(t, q >= 0 && q < 127)
	}
	seen := map[int]bool{0: true}
	queue := []int{0}
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		for _, n := range adj[q] {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	assert.Len(t, seen, 127, "the lattice is connected")
	// Known couplings of IBM's Eagle r3 layout.
	for _, e := range [][2]int{{0, 14}, {14, 18}, {20, 33}, {33, 39}, {108, 112}, {112, 126}, {113, 114}} {
		assert.Contains(t, edges, e)
	}
}

func TestCircuitSeconds(t *testing.T) {
	prim := mustPrimitive(t, `{"pubs":[["OPENQASM 3.0; bit[2] c; rz(0.1) $0; sx $0; cx $0, $1; delay[900dt] $1; barrier $0, $1; c[0] = measure $0;", null, 1000]]}`)
	// sx 60 ns, cx 660 ns, delay 200 ns, measure 1560 ns; rz is virtual.
	assert.InDelta(t, 2.48e-6, circuitSeconds(prim.Pubs[0].Circuit), 1e-12)
	assert.Equal(t, 3.0, quantumSeconds(prim), "2 s + 1000 × (2.48 µs + 250 µs), rounded up")
}

func mustPrimitive(t *testing.T, params string) *runtimeapi.Primitive {
	t.Helper()
	p, err := runtimeapi.DecodePrimitive(runtimeapi.ProgramSampler, json.RawMessage(params))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigurationsTheClientBuilds checks every backend's configuration
// as the real client builds it: one it rejects is a backend
// service.backends() silently drops.
func TestConfigurationsTheClientBuilds(t *testing.T) {
	_, ts := startServer(t, Default())
	c := newClient(t, ts.URL, DemoCRN("qr-ml"))
	var list struct {
		Devices []struct {
			Name string `json:"name"`
		} `json:"devices"`
	}
	c.json(http.MethodGet, "/api/v1/backends", nil, http.StatusOK, &list)
	require.NotEmpty(t, list.Devices)
	for _, d := range list.Devices {
		var config map[string]any
		c.json(http.MethodGet, "/api/v1/backends/"+d.Name+"/configuration", nil, http.StatusOK, &config)
		assert.NoError(t, qiskitclient.CheckConfiguration(config), d.Name)
	}
}
