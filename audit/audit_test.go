package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openLog opens a trail in dir with the given policy and sinks.
func openLog(t testing.TB, dir string, cfg FileConfig, sinks []Sink, opts Options) *Log {
	t.Helper()
	cfg.Dir = dir
	f, err := OpenFile(cfg)
	require.NoError(t, err)
	l := New(f, sinks, opts)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// commit reserves and commits one record.
func commit(t testing.TB, l *Log, rec *Record) {
	t.Helper()
	tk, err := l.Reserve(context.Background())
	require.NoError(t, err)
	require.NoError(t, tk.Commit(rec))
}

func record(tenant, user string, i int) *Record {
	return &Record{TenantID: tenant, UserID: user, Action: "quantum-computing.job.create", Outcome: Success,
		Resource: Resource{Type: "quantum_job", ID: fmt.Sprintf("job-%d", i)}}
}

// readLines returns the lines of every trail file, by file.
func readLines(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := trailFiles(dir)
	require.NoError(t, err)
	out := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		require.NoError(t, err)
		out[filepath.Base(f.path)] = strings.SplitAfter(string(b), "\n")
	}
	return out
}

func TestChainSealsAndOpens(t *testing.T) {
	rec := record("acme", "fatima", 1)
	line, hash, err := seal(rec, 7, "abc")
	require.NoError(t, err)
	got, intact, err := open(bytes.TrimSuffix(line, []byte("\n")))
	require.NoError(t, err)
	assert.True(t, intact)
	assert.Equal(t, uint64(7), got.Seq)
	assert.Equal(t, "abc", got.PrevHash)
	assert.Equal(t, hash, got.Hash)

	edited := bytes.Replace(line, []byte(`"fatima"`), []byte(`"mallory"`), 1)
	_, intact, err = open(bytes.TrimSuffix(edited, []byte("\n")))
	require.NoError(t, err)
	assert.False(t, intact)

	_, _, err = open([]byte(`{"seq":1}`))
	assert.ErrorIs(t, err, errMalformed)
}

// writeTrail writes n records across several files (small MaxSize).
func writeTrail(t *testing.T, n int) string {
	dir := t.TempDir()
	l := openLog(t, dir, FileConfig{MaxSize: 1500, Fsync: FsyncNever}, nil, Options{})
	for i := 1; i <= n; i++ {
		commit(t, l, record("acme", "fatima", i))
		waitWritten(t, l, uint64(i)) // one record per batch: files roll between records
	}
	require.NoError(t, l.Close())
	return dir
}

func waitWritten(t testing.TB, l *Log, n uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return l.Stats().Written.Load() >= n }, 5*time.Second, time.Millisecond)
}

// locate finds the file and index of the line holding seq.
func locate(t *testing.T, files map[string][]string, seq int) (string, int) {
	needle := fmt.Sprintf(`"seq":%d,`, seq)
	for name, lines := range files {
		for i, l := range lines {
			if strings.Contains(l, needle) {
				return name, i
			}
		}
	}
	t.Fatalf("seq %d not found", seq)
	return "", 0
}

func TestVerifyNamesEachKindOfTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string, files map[string][]string)
		kind   string
		seq    uint64 // the record the problem names
		warn   bool
	}{
		{name: "intact", tamper: func(*testing.T, string, map[string][]string) {}},
		{name: "edited", kind: Edited, seq: 4, tamper: func(t *testing.T, dir string, files map[string][]string) {
			f, i := locate(t, files, 4)
			files[f][i] = strings.Replace(files[f][i], `"outcome":"success"`, `"outcome":"denied"`, 1)
		}},
		{name: "removed", kind: Removed, seq: 6, tamper: func(t *testing.T, dir string, files map[string][]string) {
			f, i := locate(t, files, 5)
			files[f] = append(files[f][:i], files[f][i+1:]...)
		}},
		{name: "whole file removed", kind: Removed, tamper: func(t *testing.T, dir string, files map[string][]string) {
			f, _ := locate(t, files, 6)
			delete(files, f)
			require.NoError(t, os.Remove(filepath.Join(dir, f)))
		}},
		{name: "inserted copy", kind: Inserted, seq: 3, tamper: func(t *testing.T, dir string, files map[string][]string) {
			f, i := locate(t, files, 3)
			g, j := locate(t, files, 7)
			files[g] = append(files[g][:j+1], append([]string{files[f][i]}, files[g][j+1:]...)...)
		}},
		{name: "inserted forgery", kind: Inserted, tamper: func(t *testing.T, dir string, files map[string][]string) {
			f, i := locate(t, files, 8)
			forged := strings.Replace(files[f][i], `"job-8"`, `"job-x"`, 1)
			files[f] = append(files[f][:i+1], append([]string{forged}, files[f][i+1:]...)...)
		}},
		{name: "reordered", kind: Reordered, seq: 2, tamper: func(t *testing.T, dir string, files map[string][]string) {
			f, i := locate(t, files, 2)
			g, j := locate(t, files, 3)
			require.Equal(t, f, g, "seq 2 and 3 share a file")
			files[f][i], files[f][j] = files[f][j], files[f][i]
		}},
		{name: "malformed", kind: Malformed, tamper: func(t *testing.T, dir string, files map[string][]string) {
			f, i := locate(t, files, 9)
			files[f][i] = "not a record\n"
		}},
		{name: "torn last line", warn: true, tamper: func(t *testing.T, dir string, files map[string][]string) {
			f, i := locate(t, files, 12)
			files[f][i] = files[f][i][:40]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTrail(t, 12)
			files := readLines(t, dir)
			require.Greater(t, len(files), 2, "the trail spans several files")
			tt.tamper(t, dir, files)
			for name, lines := range files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "")), 0o600))
			}
			v, err := Verify(dir)
			require.NoError(t, err)
			if tt.kind == "" {
				assert.Empty(t, v.Problems)
				assert.Equal(t, tt.warn, len(v.Warnings) == 1, "warnings: %v", v.Warnings)
				return
			}
			require.NotEmpty(t, v.Problems)
			p := v.Problems[0]
			assert.Equal(t, tt.kind, p.Kind, "problems: %v", v.Problems)
			assert.NotEmpty(t, p.File)
			assert.Positive(t, p.Line)
			if tt.seq != 0 {
				assert.Equal(t, tt.seq, p.Seq, "problems: %v", v.Problems)
			}
		})
	}
}

func TestVerifyEmptyDirectory(t *testing.T) {
	_, err := Verify(t.TempDir())
	assert.ErrorContains(t, err, "holds no audit files")
}

// gate is a sink that waits until opened, and fails while told to.
type gate struct {
	mu    sync.Mutex
	open  chan struct{}
	fails int
	got   []string
}

func (g *gate) Name() string { return "gate" }

func (g *gate) Write(_ context.Context, batch []Sealed) error {
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fails > 0 {
		g.fails--
		return errors.New("sink down")
	}
	for _, s := range batch {
		g.got = append(g.got, s.Record.AuditID)
	}
	return nil
}

func TestFullQueueBlocksThenRefuses(t *testing.T) {
	g := &gate{open: make(chan struct{})}
	l := openLog(t, t.TempDir(), FileConfig{Fsync: FsyncInterval}, []Sink{g}, Options{QueueSize: 2, BlockTimeout: 50 * time.Millisecond})
	commit(t, l, record("acme", "a", 1))
	commit(t, l, record("acme", "a", 2))
	assert.Equal(t, 2, l.Depth())

	began := time.Now()
	_, err := l.Reserve(context.Background())
	assert.ErrorIs(t, err, ErrQueueFull)
	assert.GreaterOrEqual(t, time.Since(began), 50*time.Millisecond, "blocked before refusing")
	assert.Equal(t, uint64(1), l.Stats().Delayed.Load())
	assert.Equal(t, uint64(1), l.Stats().Refused.Load())

	close(g.open) // the sink recovers: room comes back without a restart
	waitWritten(t, l, 2)
	commit(t, l, record("acme", "a", 3))
	waitWritten(t, l, 3)
	assert.Len(t, g.got, 3)
}

func TestStrictCommitWaitsUntilEverySinkHasTheRecord(t *testing.T) {
	g := &gate{open: make(chan struct{}), fails: 2}
	close(g.open)
	dir := t.TempDir()
	l := openLog(t, dir, FileConfig{Fsync: FsyncAlways}, []Sink{g}, Options{})
	rec := record("acme", "a", 1)
	commit(t, l, rec)
	assert.Equal(t, []string{rec.AuditID}, g.got, "acknowledged only after the retried sink has it")
	assert.Equal(t, uint64(2), l.Stats().SinkErrors.Load())
	page, err := FileSource{dir}.Query(context.Background(), Filter{}, "", 10)
	require.NoError(t, err)
	require.Len(t, page.Logs, 1)
	assert.Equal(t, rec.AuditID, page.Logs[0].AuditID)
}

func TestReleaseGivesRoomBack(t *testing.T) {
	l := openLog(t, t.TempDir(), FileConfig{}, nil, Options{QueueSize: 1, BlockTimeout: time.Millisecond})
	tk, err := l.Reserve(context.Background())
	require.NoError(t, err)
	tk.Release()
	tk.Release()
	commit(t, l, record("acme", "a", 1))
}

func TestTornTailContinuesInANewFile(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, FileConfig{Fsync: FsyncAlways}, nil, Options{})
	for i := 1; i <= 3; i++ {
		commit(t, l, record("acme", "a", i))
	}
	require.NoError(t, l.Close())
	files, err := trailFiles(dir)
	require.NoError(t, err)
	f, err := os.OpenFile(files[0].path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"audit_id":"audit-2026`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	before, err := os.ReadFile(files[0].path)
	require.NoError(t, err)

	l = openLog(t, dir, FileConfig{Fsync: FsyncAlways}, nil, Options{})
	commit(t, l, record("acme", "a", 4))
	require.NoError(t, l.Close())

	after, err := os.ReadFile(files[0].path)
	require.NoError(t, err)
	assert.Equal(t, before, after, "the damaged file is not rewritten")
	v, err := Verify(dir)
	require.NoError(t, err)
	assert.Empty(t, v.Problems)
	assert.Len(t, v.Warnings, 1)
	assert.Equal(t, uint64(5), v.Last, "recovery record and the new record continue the chain")
	page, err := FileSource{dir}.Query(context.Background(), Filter{Actions: []string{ActionRecovered}}, "", 10)
	require.NoError(t, err)
	require.Len(t, page.Logs, 1)
	assert.Contains(t, page.Logs[0].Note, "incomplete line")
}

func TestOneWriterPerDirectory(t *testing.T) {
	dir := t.TempDir()
	openLog(t, dir, FileConfig{}, nil, Options{})
	_, err := OpenFile(FileConfig{Dir: dir})
	assert.ErrorContains(t, err, "in use by another process")
}

func TestUnreadableEndRefusesToContinueTheChain(t *testing.T) {
	dir := writeTrail(t, 3)
	files, err := trailFiles(dir)
	require.NoError(t, err)
	last := files[len(files)-1].path
	f, err := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("not a record\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = OpenFile(FileConfig{Dir: dir})
	assert.ErrorContains(t, err, "is not an audit record")
}

// TestDecisionsAwaitChangesAndRefusals checks the decisions policy: a
// read that was served is acknowledged without an fsync and reaches
// stable storage with the sync interval's fsync; a change, a refusal and
// a failed read are each fsynced before they are acknowledged.
func TestDecisionsAwaitChangesAndRefusals(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, FileConfig{Fsync: FsyncDecisions}, nil, Options{SyncInterval: 2 * time.Second, FoldReads: -1})
	read := func(outcome string) *Record {
		return &Record{TenantID: "acme", UserID: "fatima", Action: "quantum-computing.job.read", Outcome: outcome,
			Resource: Resource{Type: "quantum_job", ID: "job-1"}}
	}
	syncs := func() uint64 { return l.file.syncs.Load() }
	before := syncs()
	commit(t, l, read(Success))
	require.Eventually(t, func() bool { return l.Stats().Written.Load() >= 1 }, time.Second, time.Millisecond)
	assert.Equal(t, before, syncs(), "a served read is written without its own fsync")
	require.Eventually(t, func() bool { return syncs() > before }, 3*time.Second, 10*time.Millisecond,
		"and is fsynced within the sync interval")

	for _, rec := range []*Record{record("acme", "fatima", 1), read(Denied), read(Failure)} {
		assert.False(t, rec.ReadOnly(), "%s %s is awaited", rec.Action, rec.Outcome)
		before := syncs()
		commit(t, l, rec)
		assert.Greater(t, syncs(), before, "%s %s is fsynced before it is acknowledged", rec.Action, rec.Outcome)
	}
}

// TestRepeatedReadsFold polls one job many times: under decisions the
// polls become one record with their count and first and last time, a
// different read and a change stay records of their own, and closing
// the log writes a fold still open; under always every read is a record.
func TestRepeatedReadsFold(t *testing.T) {
	poll := func(job string) *Record {
		return &Record{TenantID: "acme", UserID: "fatima", Action: "quantum-computing.job.read", Outcome: Success, Status: 200,
			Resource: Resource{Type: "quantum_job", ID: job}, Request: &Request{Method: "GET", Path: "/api/v1/jobs/" + job}}
	}
	all := func(dir string) []Record {
		page, err := FileSource{dir}.Query(context.Background(), Filter{}, "", MaxPageSize)
		require.NoError(t, err)
		return page.Logs
	}
	for _, tc := range []struct {
		fsync Fsync
		want  map[string]int // the count of the records of each job
	}{
		{FsyncDecisions, map[string]int{"job-1": 50, "job-2": 0, "job-3": 3, "job-4": 0}},
		{FsyncAlways, nil},
	} {
		dir := t.TempDir()
		cfg := FileConfig{Dir: dir, Fsync: tc.fsync}
		f, err := OpenFile(cfg)
		require.NoError(t, err)
		l := New(f, nil, Options{FoldReads: 300 * time.Millisecond})
		for range 50 {
			commit(t, l, poll("job-1"))
		}
		commit(t, l, poll("job-2"))
		commit(t, l, record("acme", "fatima", 7))
		for range 2 {
			noted := poll("job-4")
			noted.Note = "address outside the allowlist (ip_mode audit)"
			commit(t, l, noted)
		}
		if tc.fsync == FsyncDecisions {
			require.Eventually(t, func() bool { return len(all(dir)) == 5 }, 2*time.Second, 20*time.Millisecond,
				"the folds are written once their window ends")
		}
		for range 3 {
			commit(t, l, poll("job-3"))
		}
		require.NoError(t, l.Close())
		recs := all(dir)
		if tc.want == nil {
			assert.Len(t, recs, 57, "under always every read is a record")
			continue
		}
		require.Len(t, recs, 6, "closing writes the open fold; a read with a note is never folded")
		for _, r := range recs {
			if r.Action != "quantum-computing.job.read" {
				assert.Zero(t, r.Count, "a change is never folded")
				continue
			}
			assert.Equal(t, tc.want[r.Resource.ID], r.Count, r.Resource.ID)
			if r.Count > 1 {
				require.NotNil(t, r.LastTimestamp)
				assert.False(t, r.LastTimestamp.Before(r.Timestamp))
			} else {
				assert.Nil(t, r.LastTimestamp)
			}
		}
		v, err := Verify(dir)
		require.NoError(t, err)
		assert.Empty(t, v.Problems)
	}
}
