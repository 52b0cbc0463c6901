package runtimeapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/qgov/qgov/denial"
)

func TestErrorRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *Error
		want string
	}{
		{"a 503 without one gets the default", Errorf(http.StatusServiceUnavailable, "store_unavailable", "x"), "5"},
		{"a 503 keeps its own", &Error{Status: http.StatusServiceUnavailable, Code: "gateway_busy", RetryAfter: 2}, "2"},
		{"a 429 carries the one it sets", &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", RetryAfter: 30}, "30"},
		{"a 403 carries none", Errorf(http.StatusForbidden, "policy_blocked", "x"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tc.err.Write(w, "trace")
			assert.Equal(t, tc.err.Status, w.Code)
			assert.Equal(t, tc.want, w.Header().Get("Retry-After"))
		})
	}
}

// TestDenialStatuses: a refusal's status is its code's in Statuses, and
// a code outside it is a fault of the gateway's.
func TestDenialStatuses(t *testing.T) {
	for code, want := range map[string]int{
		"quota_exceeded": http.StatusTooManyRequests, "policy_blocked": http.StatusForbidden,
		"store_unavailable": http.StatusServiceUnavailable, "no_such_code": http.StatusInternalServerError,
	} {
		w := httptest.NewRecorder()
		WriteDenial(w, denial.New(code, "x"), "t")
		assert.Equal(t, want, w.Code, code)
	}
	w := httptest.NewRecorder()
	WriteDenial(w, denial.New("store_unavailable", "x"), "t")
	assert.Equal(t, "5", w.Header().Get("Retry-After"), "every 503 says when to retry")
}
