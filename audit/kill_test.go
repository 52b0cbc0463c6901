package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childDirEnv makes the test binary a writer that prints the id of every
// acknowledged record until it is killed.
const childDirEnv = "QGOV_AUDIT_KILL_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		os.Exit(killChild(dir))
	}
	os.Exit(m.Run())
}

func killChild(dir string) int {
	f, err := OpenFile(FileConfig{Dir: dir, Fsync: FsyncAlways, MaxSize: 256 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l := New(f, nil, Options{})
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				tk, err := l.Reserve(context.Background())
				if err != nil {
					continue
				}
				rec := record("acme", fmt.Sprintf("worker-%d", w), i)
				if tk.Commit(rec) != nil {
					continue
				}
				mu.Lock()
				fmt.Println(rec.AuditID) // acknowledged
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return 0
}

// TestKill9LosesNothingAcknowledged kills a writer under load with the
// strict policy and finds every record it acknowledged in an intact trail.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())

	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	for len(acked) < 3000 && sc.Scan() {
		acked[sc.Text()] = true
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	for sc.Scan() { // acknowledged before the kill, still in the pipe
		acked[sc.Text()] = true
	}
	_ = cmd.Wait()
	require.GreaterOrEqual(t, len(acked), 3000)

	v, err := Verify(dir)
	require.NoError(t, err)
	assert.Empty(t, v.Problems)
	assert.LessOrEqual(t, len(v.Warnings), 1, "at most the line being written when killed")
	found := map[string]bool{}
	for token := ""; ; {
		page, err := FileSource{dir}.Query(context.Background(), Filter{}, token, MaxPageSize)
		require.NoError(t, err)
		for _, r := range page.Logs {
			found[r.AuditID] = true
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	var lost []string
	for id := range acked {
		if !found[id] {
			lost = append(lost, id)
		}
	}
	assert.Empty(t, lost, "acknowledged records missing after kill -9")
	t.Logf("acknowledged %d, trail holds %d records in %d files", len(acked), v.Records, v.Files)
}
