package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/internal/qiskitclient"
	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/simulator"
)

// binary is the qgov binary built for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "qgov-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "qgov")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building qgov:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
}

// TestSimulatorCommand runs `qgov simulator --listen` as a user would and
// replays a Qiskit client session against it; SIGINT stops it cleanly.
func TestSimulatorCommand(t *testing.T) {
	addr := freeAddr(t)
	cmd := exec.Command(binary, "simulator", "--listen", addr)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/identity/keys")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "the simulator did not start")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	qc := &qiskitclient.Client{BaseURL: base, APIKey: simulator.DemoAPIKey, CRN: simulator.DemoCRN("qr-finance")}
	report, err := qiskitclient.Session(ctx, qc)
	require.NoError(t, err)
	assert.Equal(t, "ibm_qgov_eagle", report.Backend)
	assert.Len(t, report.Instances, 3)

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-done:
		require.NoError(t, err, "exit status after SIGINT")
	case <-time.After(10 * time.Second):
		t.Fatal("the simulator did not stop on SIGINT")
	}
}

// TestSimulatorCommandBadConfig fails loudly on a broken config file.
func TestSimulatorCommandBadConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "sim.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"max_qubits": 99}`), 0o600))
	out, err := exec.Command(binary, "simulator", "--listen", freeAddr(t), "--config", cfg).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "max_qubits must be 1 to 34")
}

func TestHashKeyCommand(t *testing.T) {
	cmd := exec.Command(binary, "gov", "hash-key")
	cmd.Stdin = strings.NewReader("demo-fatima-key\n")
	out, err := cmd.Output()
	require.NoError(t, err)
	assert.Equal(t, "ba32fc601206b83bf3e09aa7798f4d71f8e39b5b2060e888a638fbaa7c5c14f7\n", string(out))

	out, err = exec.Command(binary, "gov", "hash-key", "--generate").Output()
	require.NoError(t, err)
	var key, hash string
	_, err = fmt.Sscanf(string(out), "key:    %s\nsha256: %s\n", &key, &hash)
	require.NoError(t, err, string(out))
	assert.True(t, strings.HasPrefix(key, "qgov-"))
	assert.Equal(t, identity.HashKey(key), hash)

	cmd = exec.Command(binary, "gov", "hash-key")
	cmd.Stdin = strings.NewReader("")
	out, err = cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "reading the key from standard input")
}
