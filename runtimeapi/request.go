package runtimeapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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

// BadRequest builds a 400 error with the given code.
func BadRequest(code, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, code, fmt.Sprintf(format, args...))
}

// DecodeJSON decodes a request body into v; malformed JSON becomes a 400
// error naming the byte offset.
func DecodeJSON(body []byte, v any) *Error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return BadRequest("invalid_json", "malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return BadRequest("invalid_json", "field %q must be %s, not a JSON %s", te.Field, te.Type, te.Value)
		default:
			return BadRequest("invalid_json", "malformed JSON: %v", err)
		}
	}
	if dec.More() {
		return BadRequest("invalid_json", "unexpected data after the JSON document")
	}
	return nil
}

// DecodeJobRequest decodes and checks the top level of a POST /jobs body.
func DecodeJobRequest(body []byte) (*JobRequest, *Error) {
	var req JobRequest
	if err := DecodeJSON(body, &req); err != nil {
		return nil, err
	}
	if req.ProgramID == "" {
		return nil, BadRequest("missing_program_id", "program_id is required")
	}
	if len(req.Params) == 0 || string(req.Params) == "null" {
		return nil, BadRequest("missing_params", "params is required")
	}
	if req.Cost != nil && *req.Cost <= 0 {
		return nil, BadRequest("invalid_cost", "cost (max_execution_time) must be a positive number of seconds")
	}
	if err := CheckTags(req.Tags); err != nil {
		return nil, err
	}
	return &req, nil
}

// CheckTags requires every job tag to be 1 to 255 characters.
func CheckTags(tags []string) *Error {
	for i, tag := range tags {
		if tag == "" || len(tag) > 255 {
			return BadRequest("invalid_tags", "tags[%d] must be 1 to 255 characters", i)
		}
	}
	return nil
}
