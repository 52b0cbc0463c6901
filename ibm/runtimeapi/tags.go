package runtimeapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/internal/strictjson"
)

// trackPrefix begins the tag the gateway adds to every job it forwards.
const trackPrefix = "qgov-track:"

// TrackTag is the tag the gateway adds to a job it forwards, naming the
// gateway's record of the submission (a held job's id, or a
// reservation's). Jobs are listed by tag, so a replica finishing the
// submission of one that stopped finds the upstream job it may have
// created before deciding to forward again.
func TrackTag(id string) string { return trackPrefix + id }

// CheckOwnTags refuses tags a client may not set: the gateway's tracking
// tags, which would let one job pass for another.
func CheckOwnTags(tags []string) *denial.Denial {
	if i := slices.IndexFunc(tags, func(t string) bool { return strings.HasPrefix(t, trackPrefix) }); i >= 0 {
		return denial.Newf("reserved_tag", "tags[%d] %q begins with %q, which the gateway reserves for its own tracking", i, tags[i], trackPrefix)
	}
	return nil
}

// WithTag returns a copy of body, a job request checked to have one
// reading, with tag appended to its "tags" (created when absent). The rest
// of the body is kept byte for byte.
func WithTag(body []byte, tag string) ([]byte, error) {
	enc, _ := json.Marshal(tag)
	start, end := -1, -1
	err := strictjson.Members(body, func(name string, v []byte) error {
		if name == "tags" {
			start = cap(body) - cap(v) // v is a view of body
			end = start + len(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var head, insert, tail []byte
	switch {
	case start < 0: // no tags member: open the object with one
		open := bytes.IndexByte(body, '{')
		if open < 0 {
			return nil, errors.New("the body is not a JSON object")
		}
		head, tail = body[:open+1], body[open+1:]
		insert = append(append([]byte(`"tags":[`), enc...), ']')
		if len(bytes.TrimSpace(tail)) > 1 { // not "{}"
			insert = append(insert, ',')
		}
	case string(body[start:end]) == "null":
		head, tail = body[:start], body[end:]
		insert = append(append([]byte{'['}, enc...), ']')
	case body[start] == '[':
		head, tail = body[:end-1], body[end-1:]
		insert = enc
		if len(bytes.TrimSpace(body[start+1:end-1])) > 0 {
			insert = append([]byte{','}, enc...)
		}
	default:
		return nil, errors.New("tags is not an array")
	}
	out := make([]byte, 0, len(body)+len(insert))
	return append(append(append(out, head...), insert...), tail...), nil
}
