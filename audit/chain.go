package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// The hash chain. Each record is written as one JSON line whose body
// carries its sequence number and the previous record's hash, followed
// by its own hash, the hex SHA-256 of the body's exact bytes:
//
//	{"audit_id":...,"seq":42,"prev_hash":"<hash of 41>","hash":"<sha256 of the line up to here, closed with }>"}
//
// The chain runs across files: a file's first record carries the hash of
// the previous file's last. Editing a record breaks its hash; removing,
// inserting or reordering records breaks the sequence and the links.

// hashSuffix is what precedes a record's hash in its line.
var hashSuffix = []byte(`,"hash":"`)

// seal numbers a record, links it to prev and returns its line (with the
// trailing newline) and hash.
func seal(rec *Record, seq uint64, prev string) ([]byte, string, error) {
	rec.Seq, rec.PrevHash, rec.Hash = seq, prev, ""
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, "", fmt.Errorf("encoding audit record %s: %w", rec.AuditID, err)
	}
	sum := sha256.Sum256(body)
	rec.Hash = hex.EncodeToString(sum[:])
	line := make([]byte, 0, len(body)+len(hashSuffix)+67)
	line = append(line, body[:len(body)-1]...)
	line = append(line, hashSuffix...)
	line = append(line, rec.Hash...)
	line = append(line, '"', '}', '\n')
	return line, rec.Hash, nil
}

// errMalformed marks a line that is not a sealed record.
var errMalformed = errors.New("not a sealed audit record")

// open parses a line (without its newline) and reports whether its hash
// matches its body.
func open(line []byte) (rec Record, intact bool, err error) {
	i := bytes.LastIndex(line, hashSuffix)
	if i < 0 || !bytes.HasSuffix(line, []byte(`"}`)) || len(line)-i-len(hashSuffix)-2 != sha256.Size*2 {
		return rec, false, errMalformed
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		return rec, false, fmt.Errorf("%w: %v", errMalformed, err)
	}
	body := make([]byte, 0, i+1)
	body = append(append(body, line[:i]...), '}')
	sum := sha256.Sum256(body)
	return rec, hex.EncodeToString(sum[:]) == rec.Hash, nil
}
