package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/policy"
)

// traceparents records the traceparent of every request sent upstream.
type traceparents struct {
	mu   sync.Mutex
	seen []string
}

func (t *traceparents) Forward(w http.ResponseWriter, r *http.Request, in *org.Instance) error {
	t.mu.Lock()
	t.seen = append(t.seen, r.Header.Get("traceparent"))
	t.mu.Unlock()
	return stdProxy{}.Forward(w, r, in)
}

// TestTracedRequests runs requests inside a trace, as Caddy's tracing
// directive does: each step is a span of the request's trace, the
// upstream joins the trace, and an error body names the trace.
func TestTracedRequests(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	st := openBolt(t, filepath.Join(t.TempDir(), "qgov.db"))
	defer st.Close()
	up := &traceparents{}
	set, err := policy.Compile([]policy.Policy{{Name: "watch", Condition: "shots > 1", Action: policy.ActionBlock, Mode: policy.ModeAudit}}, nil)
	require.NoError(t, err)
	file, err := audit.OpenFile(audit.FileConfig{Dir: t.TempDir(), Fsync: audit.FsyncAlways})
	require.NoError(t, err)
	trail := audit.New(file, nil, audit.Options{})
	defer trail.Close()
	_, gw := newRig(t).serve(t, st, func(c *Config) { c.Upstream, c.Policies, c.Audit = up, policy.NewCurrent(set), trail })
	traced := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tp.Tracer("caddy").Start(r.Context(), "request")
		defer span.End()
		gw.Serve(w, r.WithContext(ctx))
	}))
	defer traced.Close()

	status, body := call(t, traced, "fatima-key", http.MethodPost, "/api/v1/jobs", isaJob)
	require.Equal(t, http.StatusOK, status, string(body))
	status, body = call(t, traced, "ravi-key", http.MethodGet, "/api/v1/jobs/never-existed", "")
	require.Equal(t, http.StatusNotFound, status, string(body))
	var refusal struct{ Trace string }
	require.NoError(t, json.Unmarshal(body, &refusal))

	requests := map[string]sdktrace.ReadOnlySpan{} // by trace id
	steps := map[string][]string{}
	for _, s := range spans.Ended() {
		if s.Name() == "request" {
			requests[s.SpanContext().TraceID().String()] = s
			continue
		}
		assert.Equal(t, s.Parent().TraceID(), s.SpanContext().TraceID())
		steps[s.SpanContext().TraceID().String()] = append(steps[s.SpanContext().TraceID().String()], s.Name())
	}
	require.Len(t, requests, 2)
	for id, req := range requests {
		for _, s := range spans.Ended() {
			if s.SpanContext().TraceID().String() == id && s.Name() != "request" {
				assert.Equal(t, req.SpanContext().SpanID(), s.Parent().SpanID(), "%s is a step of its request", s.Name())
			}
		}
	}
	var submission string
	for id, names := range steps {
		if len(names) > 4 {
			submission = id
		}
	}
	require.NotEmpty(t, submission, "the submission's steps: %v", steps)
	for _, step := range Steps {
		assert.Contains(t, steps[submission], "qgov."+string(step))
	}
	assert.Contains(t, requests, refusal.Trace, "the error body names the request's trace")
	up.mu.Lock()
	defer up.mu.Unlock()
	require.NotEmpty(t, up.seen)
	assert.Contains(t, up.seen[0], submission, "the upstream joins the trace (traceparent)")
}
