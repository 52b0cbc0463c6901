// Package runtimeapi is the wire model of the Qiskit Runtime REST API: job,
// session and usage documents, the error body, the submission body with its
// primitive pubs, and the result encodings the Qiskit client decodes.
package runtimeapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
)

// ErrorItem is one entry of the Runtime API error body.
type ErrorItem struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
}

// ErrorBody is the Runtime API error body:
// {"errors":[{"code","message","more_info"}],"trace"}.
type ErrorBody struct {
	Errors []ErrorItem `json:"errors"`
	Trace  string      `json:"trace"`
}

// Error is an API error with its HTTP status; it renders as ErrorBody.
type Error struct {
	Status   int
	Code     string
	Message  string
	MoreInfo string
	// RetryAfter, when positive, is sent as the Retry-After header
	// (seconds). A 503 always carries one: DefaultRetryAfter unless set.
	RetryAfter int
	// Header holds further headers of the answer, such as rate-limit
	// headers.
	Header http.Header
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an API error.
func Errorf(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// BadRequest builds a 400 error with the given code, as an upstream
// answers it.
func BadRequest(code, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, code, fmt.Sprintf(format, args...))
}

// NewTrace returns a fresh request trace id.
func NewTrace() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// DefaultRetryAfter is the Retry-After of a 503 that sets none: the
// seconds after which a dependency that failed (the store, the
// counters) is tried again.
const DefaultRetryAfter = 5

// Write sends the error as the Runtime API error body with the given trace.
func (e *Error) Write(w http.ResponseWriter, trace string) {
	maps.Copy(w.Header(), e.Header)
	retry := e.RetryAfter
	if retry <= 0 && e.Status == http.StatusServiceUnavailable {
		retry = DefaultRetryAfter
	}
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
	}
	WriteJSON(w, e.Status, ErrorBody{
		Errors: []ErrorItem{{Code: e.Code, Message: e.Message, MoreInfo: e.MoreInfo}},
		Trace:  trace,
	})
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"errors":[{"code":"internal","message":"response encoding failed","more_info":""}],"trace":""}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
