package runtimeapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
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
