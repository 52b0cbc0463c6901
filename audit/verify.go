package audit

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Kinds of problem Verify finds.
const (
	Edited    = "edited"
	Removed   = "removed"
	Inserted  = "inserted"
	Reordered = "reordered"
	Malformed = "malformed"
	Truncated = "truncated"
)

// Problem is one finding of Verify, naming where it is.
type Problem struct {
	Kind    string `json:"kind"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Seq     uint64 `json:"seq,omitempty"`
	AuditID string `json:"audit_id,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Kind, p.Message)
}

// Verification is what Verify found. The trail is intact when Problems is
// empty; Warnings (a last line cut off by a crash, which was never
// acknowledged) do not break it.
type Verification struct {
	Files    int       `json:"files"`
	Records  int       `json:"records"`
	First    uint64    `json:"first_seq"`
	Last     uint64    `json:"last_seq"`
	Head     string    `json:"head_hash"`
	Problems []Problem `json:"problems"`
	Warnings []Problem `json:"warnings"`
}

// OK reports whether the trail verified.
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

// line is one record read back, with where it is.
type line struct {
	file   string
	n      int
	rec    Record
	intact bool
}

func (l *line) at() string { return fmt.Sprintf("%s:%d", l.file, l.n) }

func (l *line) problem(kind, format string, args ...any) Problem {
	return Problem{Kind: kind, File: l.file, Line: l.n, Seq: l.rec.Seq, AuditID: l.rec.AuditID, Message: fmt.Sprintf(format, args...)}
}

// Verify reads every file of the trail in dir and checks each record's
// hash, the sequence and the links between records across files. It
// reads only; it never repairs.
func Verify(dir string) (*Verification, error) {
	files, err := trailFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no audit files (%s<seq>%s)", dir, filePrefix, fileSuffix)
	}
	v := &Verification{Files: len(files), Problems: []Problem{}, Warnings: []Problem{}}
	var lines []*line
	for _, tf := range files {
		name := filepath.Base(tf.path)
		err := scanLines(tf.path, func(n int, raw []byte, complete bool) error {
			if !complete {
				v.Warnings = append(v.Warnings, Problem{Kind: Truncated, File: name, Line: n,
					Message: fmt.Sprintf("the file ends with an incomplete line of %d bytes: a write cut off by a crash (never acknowledged) or a truncated file", len(raw))})
				return nil
			}
			rec, intact, err := open(raw)
			if errors.Is(err, errMalformed) {
				v.Problems = append(v.Problems, Problem{Kind: Malformed, File: name, Line: n, Message: "the line is not a sealed audit record"})
				return nil
			}
			lines = append(lines, &line{file: name, n: n, rec: rec, intact: intact})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	v.Records = len(lines)
	v.check(lines)
	slices.SortStableFunc(v.Problems, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	return v, nil
}

// check classifies breaks of the chain among the records read.
func (v *Verification) check(lines []*line) {
	reported := map[*line]bool{}
	report := func(l *line, p Problem) {
		v.Problems = append(v.Problems, p)
		reported[l] = true
	}
	// a line whose hash fails is an insertion when the chain runs around
	// it, else an edit; an insertion takes no further part
	var kept []*line
	for i, l := range lines {
		switch {
		case l.intact:
		case i > 0 && i+1 < len(lines) && lines[i+1].rec.PrevHash == lines[i-1].rec.Hash && lines[i+1].rec.Seq == lines[i-1].rec.Seq+1:
			report(l, l.problem(Inserted, "a record that is not part of the chain was inserted (its hash does not match its content, and the records around it link to each other)"))
			continue
		default:
			report(l, l.problem(Edited, "record seq %d (%s) was edited: its hash does not match its content", l.rec.Seq, l.rec.AuditID))
		}
		kept = append(kept, l)
	}
	// of two records with one seq, the one its successor links to is genuine
	linked := map[string]bool{}
	for _, l := range kept {
		linked[l.rec.PrevHash] = true
	}
	bySeq := map[uint64]*line{}
	for _, l := range kept {
		prev, dup := bySeq[l.rec.Seq]
		if !dup {
			bySeq[l.rec.Seq] = l
			continue
		}
		real, fake := prev, l
		if linked[l.rec.Hash] && !linked[prev.rec.Hash] {
			real, fake = l, prev
		}
		bySeq[l.rec.Seq] = real
		if !reported[fake] {
			report(fake, fake.problem(Inserted, "a second record with seq %d was inserted (the other is at %s)", l.rec.Seq, real.at()))
		}
	}
	if len(bySeq) == 0 {
		return
	}
	// order: each record must come after every smaller seq
	var top *line
	for _, l := range kept {
		if bySeq[l.rec.Seq] != l {
			continue
		}
		if top != nil && l.rec.Seq < top.rec.Seq {
			if !reported[l] {
				report(l, l.problem(Reordered, "record seq %d appears after seq %d (%s)", l.rec.Seq, top.rec.Seq, top.at()))
			}
			continue
		}
		top = l
	}
	// gaps and links, in seq order
	seqs := make([]uint64, 0, len(bySeq))
	for s := range bySeq {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	v.First, v.Last, v.Head = seqs[0], seqs[len(seqs)-1], bySeq[seqs[len(seqs)-1]].rec.Hash
	if first := bySeq[seqs[0]]; first.rec.PrevHash != "" {
		report(first, first.problem(Removed, "the trail starts at seq %d, which links to an earlier record: records 1 to %d are missing", seqs[0], seqs[0]-1))
	}
	for i := 1; i < len(seqs); i++ {
		prev, cur := bySeq[seqs[i-1]], bySeq[seqs[i]]
		switch {
		case seqs[i] != seqs[i-1]+1:
			report(cur, cur.problem(Removed, "records seq %d to %d are missing between %s and here", seqs[i-1]+1, seqs[i]-1, prev.at()))
		case cur.rec.PrevHash != prev.rec.Hash && !reported[cur] && !reported[prev]:
			report(cur, cur.problem(Edited, "record seq %d does not link to seq %d (%s): one of them was replaced", seqs[i], seqs[i-1], prev.at()))
		}
	}
}
