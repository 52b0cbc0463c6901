package runtimeapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/internal/strictjson"
)

// Programs the primitives run.
const (
	ProgramSampler   = "sampler"
	ProgramEstimator = "estimator"
)

// JobRequest is the body of POST /jobs as the Qiskit client sends it.
type JobRequest struct {
	ProgramID string          `json:"program_id"`
	Params    json.RawMessage `json:"params"`
	Backend   string          `json:"backend,omitempty"`
	SessionID string          `json:"session_id,omitempty"`
	Tags      []string        `json:"tags,omitempty"`
	LogLevel  string          `json:"log_level,omitempty"`
	// Cost is the job's maximum execution time in seconds (the client's
	// max_execution_time).
	Cost          *float64 `json:"cost,omitempty"`
	Private       bool     `json:"private,omitempty"`
	Runtime       string   `json:"runtime,omitempty"`
	CalibrationID string   `json:"calibration_id,omitempty"`
	StartSession  bool     `json:"start_session,omitempty"`
	SessionTime   *float64 `json:"session_time,omitempty"`
}

// jobNames are the member names the gateway reads anywhere in a job's
// body: a member spelled like one of them but for case is refused, so
// that the gateway and the upstream read the body alike.
var jobNames = strictjson.NamesOf(JobRequest{}, primitiveParams{}, taggedIn{}, executorParams{}, noiseLearnerParams{})

// PlainBody refuses a request body with a Content-Encoding (415): the
// gateway reads and forwards bodies only as they are, so that what it
// checks is what the upstream reads.
func PlainBody(h http.Header) *denial.Denial {
	if enc := h.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return denial.New("unsupported_content_encoding",
			fmt.Sprintf("the request body has Content-Encoding %q: send it uncompressed", enc))
	}
	return nil
}

// DecodeJSON decodes a request body into v. A body without exactly one
// reading (see package strictjson) or of the wrong shape becomes a 400
// naming the problem.
func DecodeJSON(body []byte, v any) *denial.Denial {
	if err := strictjson.Decode(body, v, false); err != nil {
		return denial.Newf("invalid_json", "malformed JSON: %v", err)
	}
	return nil
}

// DecodeJobRequest decodes and checks a POST /jobs body, all of it:
// params too are checked to have one reading.
func DecodeJobRequest(body []byte) (*JobRequest, *denial.Denial) {
	if err := strictjson.Check(body, jobNames); err != nil {
		return nil, denial.Newf("invalid_json", "malformed JSON: %v", err)
	}
	var req JobRequest
	if err := strictjson.Unmarshal(body, &req, false); err != nil {
		return nil, denial.Newf("invalid_json", "malformed JSON: %v", err)
	}
	return &req, req.check()
}

// check checks the top level of a job request.
func (req *JobRequest) check() *denial.Denial {
	if req.ProgramID == "" {
		return denial.Newf("missing_program_id", "program_id is required")
	}
	if len(req.Params) == 0 || string(req.Params) == "null" {
		return denial.Newf("missing_params", "params is required")
	}
	if req.Cost != nil && *req.Cost <= 0 {
		return denial.Newf("invalid_cost", "cost (max_execution_time) must be a positive number of seconds")
	}
	return CheckTags(req.Tags)
}

// CheckTags requires every job tag to be 1 to 255 characters.
func CheckTags(tags []string) *denial.Denial {
	for i, tag := range tags {
		if tag == "" || len(tag) > 255 {
			return denial.Newf("invalid_tags", "tags[%d] must be 1 to 255 characters", i)
		}
	}
	return nil
}
