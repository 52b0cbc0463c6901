package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// scanLines calls fn for each line of a trail file, numbered from 1,
// without its newline; complete is false for a last line with no newline.
func scanLines(path string, fn func(n int, line []byte, complete bool) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening audit file: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) { // a long line: gather it
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		switch {
		case err == nil:
			if ferr := fn(n, line[:len(line)-1], true); ferr != nil {
				return ferr
			}
		case errors.Is(err, io.EOF):
			if len(line) > 0 {
				return fn(n, line, false)
			}
			return nil
		default:
			return fmt.Errorf("reading %s: %w", filepath.Base(path), err)
		}
	}
}

// FileSource queries the trail's files in a directory (read-only: it may
// run beside the writer, or on a copy).
type FileSource struct{ Dir string }

// errPageFull stops a scan once a page is full.
var errPageFull = errors.New("page full")

// Query implements Source. The token is the sequence number of the last
// record returned; files that end before it are skipped unread.
func (s FileSource) Query(ctx context.Context, f Filter, token string, size int) (Page, error) {
	var after uint64
	if token != "" {
		var err error
		if after, err = strconv.ParseUint(token, 10, 64); err != nil {
			return Page{}, fmt.Errorf("invalid page_token %q", token)
		}
	}
	files, err := trailFiles(s.Dir)
	if err != nil {
		return Page{}, err
	}
	page := Page{Logs: []Record{}}
	for i, tf := range files {
		if i+1 < len(files) && files[i+1].first <= after+1 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return Page{}, err
		}
		err := scanLines(tf.path, func(_ int, line []byte, complete bool) error {
			var r Record
			if !complete || json.Unmarshal(line, &r) != nil || r.Seq <= after || !f.Match(&r) {
				return nil
			}
			if len(page.Logs) == size {
				page.NextPageToken = strconv.FormatUint(page.Logs[size-1].Seq, 10)
				return errPageFull
			}
			page.Logs = append(page.Logs, r)
			return nil
		})
		if errors.Is(err, errPageFull) {
			return page, nil
		}
		if err != nil {
			return Page{}, err
		}
	}
	return page, nil
}
