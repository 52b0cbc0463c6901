package audit

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Fsync is the file sink's durability policy.
type Fsync int

// Fsync policies, from the strictest. Under FsyncAlways every record is
// written and fsynced before it is acknowledged (many concurrent records
// share one fsync); neither a kill -9 nor a power cut loses an
// acknowledged record. FsyncDecisions, the default, does the same for
// every record that changes or refuses something (Awaited), while a read
// that changed nothing is acknowledged once queued: it is written with
// the next batch, within moments, and reaches stable storage with the
// next fsync, which the next awaited record or the sync interval brings.
// A kill -9 loses only such reads still queued in memory, a power cut at
// most the reads of the last sync interval. Under FsyncInterval every
// record is acknowledged once queued and fsynced at least every
// interval: a kill -9 loses records still queued, a power cut at most
// the last interval. FsyncNever leaves flushing to the operating system.
const (
	FsyncAlways Fsync = iota
	FsyncDecisions
	FsyncInterval
	FsyncNever
)

// ParseFsync reads "always", "decisions" (the default), "interval" or
// "never".
func ParseFsync(s string) (Fsync, error) {
	switch s {
	case "always":
		return FsyncAlways, nil
	case "decisions", "":
		return FsyncDecisions, nil
	case "interval":
		return FsyncInterval, nil
	case "never":
		return FsyncNever, nil
	}
	return 0, fmt.Errorf("unknown fsync policy %q: use always, decisions, interval or never", s)
}

// Awaits reports whether the policy makes a request wait until rec is on
// stable storage.
func (f Fsync) Awaits(rec *Record) bool {
	switch f {
	case FsyncAlways:
		return true
	case FsyncDecisions:
		return !rec.ReadOnly()
	}
	return false
}

// FileConfig configures the JSON-lines file sink.
type FileConfig struct {
	// Dir holds the trail's files, audit-<first seq>.jsonl.
	Dir string
	// MaxSize starts a new file once the current one reaches it (bytes).
	MaxSize int64
	// MaxAge starts a new file once the current one is this old.
	MaxAge time.Duration
	Fsync  Fsync
}

// Defaults of the file sink.
const (
	DefaultMaxSize = 100 << 20
	DefaultMaxAge  = 24 * time.Hour
	filePrefix     = "audit-"
	fileSuffix     = ".jsonl"
)

// FileSink appends sealed records to the current file of the trail,
// starting a new one by size or age. It never rewrites a byte: after a
// crash that tore the last line, it continues the chain in a new file.
type FileSink struct {
	cfg    FileConfig
	unlock func()
	f      *os.File
	size   int64
	opened time.Time
	dirty  bool
	// head is the last record written: where the chain continues.
	head Head
	// torn describes a torn tail found at start, for a recovery record.
	torn string
	// syncs counts fsyncs of the trail's files.
	syncs atomic.Uint64
}

// Head is the end of the chain: the last record's sequence number and
// hash.
type Head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// OpenFile opens the trail in cfg.Dir, creating the directory, and finds
// the chain's head. Only one process may hold a directory.
func OpenFile(cfg FileConfig) (*FileSink, error) {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the audit directory: %w", err)
	}
	unlock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &FileSink{cfg: cfg, unlock: unlock}
	files, err := trailFiles(cfg.Dir)
	if err != nil {
		unlock()
		return nil, err
	}
	if len(files) > 0 {
		last := files[len(files)-1].path
		head, torn, err := tail(last)
		if err != nil {
			unlock()
			return nil, fmt.Errorf("reading the end of audit file %s: %w", last, err)
		}
		s.head, s.torn = head, torn
	}
	return s, nil
}

// Head returns the chain's head.
func (s *FileSink) Head() Head { return s.head }

// Recovery describes a torn or unreadable end of the trail found when it
// was opened, or "".
func (s *FileSink) Recovery() string { return s.torn }

// trailFile is one file of the trail and the first sequence number in
// its name.
type trailFile struct {
	path  string
	first uint64
}

// trailFiles lists the trail's files in chain order.
func trailFiles(dir string) ([]trailFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing the audit directory: %w", err)
	}
	var files []trailFile
	for _, e := range entries {
		name := e.Name()
		num, ok := strings.CutPrefix(name, filePrefix)
		num, ok2 := strings.CutSuffix(num, fileSuffix)
		if !ok || !ok2 || e.IsDir() {
			continue
		}
		first, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			continue
		}
		files = append(files, trailFile{filepath.Join(dir, name), first})
	}
	slices.SortFunc(files, func(a, b trailFile) int { return cmp.Compare(a.first, b.first) })
	return files, nil
}

// tail reads a file's last complete record. A torn last line (no newline)
// or an unreadable last record is reported, not repaired.
func tail(path string) (Head, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return Head{}, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Head{}, "", err
	}
	size := st.Size()
	for window := int64(64 << 10); ; window *= 2 {
		start := max(size-window, 0)
		buf := make([]byte, size-start)
		if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
			return Head{}, "", err
		}
		end := bytes.LastIndexByte(buf, '\n')
		var torn string
		if end < len(buf)-1 {
			torn = fmt.Sprintf("%s ends with an incomplete line of %d bytes at offset %d (a write cut off by a crash)",
				filepath.Base(path), len(buf)-1-end, start+int64(end)+1)
		}
		if end < 0 && start > 0 {
			continue
		}
		if end < 0 {
			return Head{}, torn, nil
		}
		begin := bytes.LastIndexByte(buf[:end], '\n') + 1
		if begin == 0 && start > 0 {
			continue
		}
		rec, intact, err := open(buf[begin:end])
		if err != nil {
			return Head{}, "", fmt.Errorf("%s ends with a line that is not an audit record, so the chain cannot be continued: run qgov gov audit verify, and move the file aside once its findings are kept", filepath.Base(path))
		}
		if !intact {
			// continue after what the line claims, and say so
			return Head{Seq: rec.Seq, Hash: rec.Hash}, fmt.Sprintf("%s ends with a record that does not verify (run qgov gov audit verify)", filepath.Base(path)), nil
		}
		return Head{Seq: rec.Seq, Hash: rec.Hash}, torn, nil
	}
}

// write appends a batch of sealed lines, starting a new file when the
// current one is full, old, or was damaged, and fsyncs it when durable.
func (s *FileSink) write(lines []byte, first, last Head, now time.Time, durable bool) error {
	if s.f == nil || s.torn != "" || s.size >= s.cfg.MaxSize || now.Sub(s.opened) >= s.cfg.MaxAge {
		if err := s.roll(first.Seq, now); err != nil {
			return err
		}
	}
	n, err := s.f.Write(lines)
	s.size += int64(n)
	s.dirty = true
	if err != nil {
		// a partial line may be on disk: never append after it
		s.closeFile()
		return fmt.Errorf("writing the audit file: %w", err)
	}
	if durable {
		// a failed fsync may have dropped the lines: the batch is written
		// again to a new file, where verify will show any copy that did
		// survive as a second record of its seq
		if err := s.sync(); err != nil {
			return err
		}
	}
	s.head = last
	return nil
}

// roll closes the current file and starts audit-<seq>.jsonl.
func (s *FileSink) roll(seq uint64, now time.Time) error {
	if s.f != nil {
		if err := s.sync(); err != nil {
			return err
		}
		s.closeFile()
	}
	path := filepath.Join(s.cfg.Dir, fmt.Sprintf("%s%012d%s", filePrefix, seq, fileSuffix))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("creating audit file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("creating audit file: %w", err)
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		f.Close()
		return err
	}
	s.f, s.size, s.opened, s.torn = f, st.Size(), now, ""
	return nil
}

// sync flushes written records to stable storage.
func (s *FileSink) sync() error {
	if s.f == nil || !s.dirty {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		s.closeFile()
		return fmt.Errorf("fsync of the audit file: %w", err)
	}
	s.dirty = false
	s.syncs.Add(1)
	return nil
}

func (s *FileSink) closeFile() {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
}

// close syncs and closes the file and releases the directory.
func (s *FileSink) close() error {
	err := s.sync()
	s.closeFile()
	s.unlock()
	return err
}

// syncDir makes a new file's directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening the audit directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync of the audit directory: %w", err)
	}
	return nil
}
