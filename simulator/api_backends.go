package simulator

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/qgov/qgov/ibm/discovery"
	"github.com/qgov/qgov/ibm/runtimeapi"
)

// readBody reads a request body; one over the size limit is a 413.
func readBody(r *http.Request) ([]byte, *runtimeapi.Error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, runtimeapi.Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("the request body exceeds %d bytes", tooLarge.Limit))
		}
		return nil, runtimeapi.BadRequest("invalid_body", "reading the request body: %v", err)
	}
	return raw, nil
}

// parseTime reads an ISO 8601 date-time as Python's isoformat() writes it,
// with or without a time zone (none means UTC). A "+" decoded from a query
// string as a space is restored.
func parseTime(v string) (time.Time, error) {
	v = strings.Replace(v, " ", "+", 1)
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05.999999999", v)
}

// decodeBody reads a JSON request body into v.
func decodeBody(r *http.Request, v any) *runtimeapi.Error {
	raw, err := readBody(r)
	if err != nil {
		return err
	}
	return runtimeapi.Wire(runtimeapi.DecodeJSON(raw, v))
}

// backendFor returns the named backend if the instance may use it.
func (s *Server) backendFor(in *instance, name string) (*backend, *runtimeapi.Error) {
	for _, b := range s.backends {
		if b.Name == name && (in.backends == nil || in.backends[name]) {
			return b, nil
		}
	}
	return nil, runtimeapi.Errorf(http.StatusNotFound, "backend_not_found",
		fmt.Sprintf("backend %q does not exist or is not available to instance %s", name, in.Name))
}

// pending counts queued and running jobs on a backend.
func (s *Server) pending(b *backend) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, j := range s.jobs {
		if j.backend == b && !runtimeapi.Final(j.status) {
			n++
		}
	}
	return n
}

func (s *Server) handleBackends(w http.ResponseWriter, _ *http.Request, c *caller) {
	devices := []map[string]any{}
	for _, b := range s.backends {
		if c.inst.backends == nil || c.inst.backends[b.Name] {
			devices = append(devices, b.device(s.pending(b)))
		}
	}
	runtimeapi.WriteJSON(w, http.StatusOK, map[string]any{"devices": devices})
}

// handleBackendDoc serves a backend's configuration, properties or status.
func (s *Server) handleBackendDoc(w http.ResponseWriter, r *http.Request, c *caller) {
	b, err := s.backendFor(c.inst, r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	switch path.Base(r.URL.Path) {
	case "configuration":
		runtimeapi.WriteJSON(w, http.StatusOK, b.configuration())
	case "status":
		runtimeapi.WriteJSON(w, http.StatusOK, b.status(s.pending(b)))
	default:
		if b.Simulator {
			fail(w, runtimeapi.Errorf(http.StatusNotFound, "properties_not_found", fmt.Sprintf("simulator backend %q has no properties", b.Name)))
			return
		}
		at := s.now()
		if v := r.URL.Query().Get("updated_before"); v != "" {
			t, perr := parseTime(v)
			if perr != nil {
				fail(w, runtimeapi.BadRequest("invalid_updated_before", "updated_before must be an ISO 8601 date-time, got %q", v))
				return
			}
			at = t
		}
		runtimeapi.WriteJSON(w, http.StatusOK, b.properties(at))
	}
}

// handleUsage serves GET /instances/usage for the caller's instance.
func (s *Server) handleUsage(w http.ResponseWriter, _ *http.Request, c *caller) {
	runtimeapi.WriteJSON(w, http.StatusOK, s.usage(c.inst))
}

func (s *Server) usage(in *instance) runtimeapi.InstanceUsage {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rollPeriod(in)
	u := runtimeapi.InstanceUsage{
		InstanceID:           in.CRN,
		PlanID:               discovery.PlanID(in.Plan),
		UsagePeriod:          runtimeapi.UsagePeriod{StartTime: in.period, EndTime: in.period.AddDate(0, 1, 0)},
		UsageConsumedSeconds: in.consumed,
	}
	if in.UsageLimitSeconds != nil {
		limit := *in.UsageLimitSeconds
		remaining := max(0, limit-in.consumed)
		u.UsageLimitSeconds, u.UsageAllocationSeconds, u.UsageRemainingSeconds = &limit, &limit, &remaining
		u.UsageLimitReached = in.consumed >= limit
	}
	return u
}

// rollPeriod starts a new usage period when the month has turned; s.mu
// must be held.
func (s *Server) rollPeriod(in *instance) {
	if start := monthStart(s.now()); start.After(in.period) {
		in.period, in.consumed = start, 0
	}
}
