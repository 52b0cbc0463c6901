package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childDirEnv makes the test binary a writer that prints the id and kind
// of every acknowledged record until it is killed; childPolicyEnv names
// its fsync policy.
const (
	childDirEnv    = "QGOV_AUDIT_KILL_CHILD"
	childPolicyEnv = "QGOV_AUDIT_KILL_POLICY"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		os.Exit(killChild(dir, os.Getenv(childPolicyEnv)))
	}
	os.Exit(m.Run())
}

// killChild writes, from 8 workers, records of reads and of submissions
// in turn.
func killChild(dir, policy string) int {
	fsync, err := ParseFsync(policy)
	if err == nil {
		var f *FileSink
		if f, err = OpenFile(FileConfig{Dir: dir, Fsync: fsync, MaxSize: 256 << 10}); err == nil {
			runKillChild(New(f, nil, Options{SyncInterval: 200 * time.Millisecond}))
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, err)
	return 1
}

func runKillChild(l *Log) {
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
				if i%2 == 0 {
					rec.Action = "quantum-computing.job.read"
				}
				if tk.Commit(rec) != nil {
					continue
				}
				mu.Lock()
				fmt.Println(rec.AuditID, rec.Action) // acknowledged
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestKill9 kills a writer under load with each fsync policy and checks
// what the README's durability table says a kill -9 can lose: nothing
// acknowledged under always; no decision under decisions (reads still
// queued may be lost); under interval and never, only records still
// queued. The trail is intact after every kill.
func TestKill9(t *testing.T) {
	for _, tc := range []struct {
		policy string
		// lossless are the actions of which no acknowledged record may be
		// lost
		lossless []string
	}{
		{"always", []string{"quantum-computing.job.create", "quantum-computing.job.read"}},
		{"decisions", []string{"quantum-computing.job.create"}},
		{"interval", nil},
		{"never", nil},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			acked, found, v := killWriter(t, tc.policy)
			assert.Empty(t, v.Problems)
			assert.LessOrEqual(t, len(v.Warnings), 1, "at most the line being written when killed")
			lost := map[string]int{}
			for id, action := range acked {
				if !found[id] {
					lost[action]++
				}
			}
			for _, a := range tc.lossless {
				assert.Zero(t, lost[a], "acknowledged %s records missing after kill -9", a)
			}
			t.Logf("fsync %s: acknowledged %d, trail holds %d records in %d files; lost to the kill: %v",
				tc.policy, len(acked), v.Records, v.Files, lost)
		})
	}
}

// killWriter runs a writer child under policy, kills it with SIGKILL once
// it has acknowledged 3000 records, and returns what it acknowledged (id
// to action), what the trail holds and the trail's verification.
func killWriter(t *testing.T, policy string) (map[string]string, map[string]bool, *Verification) {
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir, childPolicyEnv+"="+policy)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())

	acked := map[string]string{}
	sc := bufio.NewScanner(out)
	add := func() {
		if id, action, ok := strings.Cut(sc.Text(), " "); ok {
			acked[id] = action
		}
	}
	for len(acked) < 3000 && sc.Scan() {
		add()
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	for sc.Scan() { // acknowledged before the kill, still in the pipe
		add()
	}
	_ = cmd.Wait()
	require.GreaterOrEqual(t, len(acked), 3000)

	v, err := Verify(dir)
	require.NoError(t, err)
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
	return acked, found, v
}
