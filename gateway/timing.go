package gateway

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

// Step names a step of the pipeline whose duration is observed.
type Step string

// The steps observed.
const (
	StepAuthenticate Step = "authenticate"
	StepAuthorize    Step = "authorize"
	StepLimits       Step = "limits"
	StepPolicies     Step = "policies"
	StepAdmission    Step = "admission"
	StepUpstream     Step = "upstream"
	StepRecord       Step = "record"
	StepAudit        Step = "audit"
)

// Steps are every step observed, for a metric's help.
var Steps = []Step{StepAuthenticate, StepAuthorize, StepLimits, StepPolicies, StepAdmission, StepUpstream, StepRecord, StepAudit}

// Timer observes how long the steps of requests took.
type Timer interface {
	Observe(step Step, took time.Duration)
}

// observe reports the duration of a step begun at start to the Timer,
// and when the request is traced (Caddy's tracing directive), records the
// step as a span of the request's trace.
func (g *Gateway) observe(ctx context.Context, step Step, start time.Time) {
	if g.Timer != nil {
		g.Timer.Observe(step, time.Since(start))
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		_, s := span.TracerProvider().Tracer("qgov").Start(ctx, "qgov."+string(step), trace.WithTimestamp(start))
		s.End()
	}
}

// traceOf is a request's trace id: its trace's when it is traced, so that
// an error body, the audit record and the spans name the same trace, else
// a fresh one.
func traceOf(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return runtimeapi.NewTrace()
}
