// Package denial is why qgov refuses a request, or cannot serve it now:
// a code, a message that names the rule and the scope (and for a limit,
// when it resets), and when to try again. The packages that decide
// return a *Denial; the edge (package runtimeapi) gives each code its
// HTTP status from one table and writes the Runtime API's error body.
package denial

import (
	"fmt"
	"net/http"
)

// Denial is one refusal.
type Denial struct {
	// Code names the refusal, such as "quota_exceeded"; its HTTP status
	// is the edge's (runtimeapi.Statuses).
	Code string
	// Message says why, naming the rule and the scope.
	Message string
	// MoreInfo, when set, points to more about the refusal.
	MoreInfo string
	// RetryAfter, when positive, is when to try again, in seconds; a
	// refusal for a dependency that failed always gets one at the edge.
	RetryAfter int
	// Header holds further headers of the answer, such as a limit's
	// RateLimit headers.
	Header http.Header
}

func (d *Denial) Error() string { return d.Message }

// New returns a refusal.
func New(code, message string) *Denial { return &Denial{Code: code, Message: message} }

// Newf returns a refusal whose message is formatted.
func Newf(code, format string, args ...any) *Denial {
	return &Denial{Code: code, Message: fmt.Sprintf(format, args...)}
}
