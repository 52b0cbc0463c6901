package store

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// traceCalls is a go-redis hook that records each call made within a
// traced request (Caddy's tracing directive) as a client span of the
// request's trace: "redis GET", or "redis pipeline" for a pipeline or a
// transaction; a new connection's handshake is not. Keys and values are
// not recorded. Outside a trace it costs a context lookup.
type traceCalls struct{}

// span starts a call's span when ctx's span is recording, and reports
// whether it did.
func (traceCalls) span(ctx context.Context, name string, attrs ...attribute.KeyValue) (trace.Span, bool) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return nil, false
	}
	_, s := parent.TracerProvider().Tracer("qgov").Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(append(attrs, attribute.String("db.system.name", "redis"))...))
	return s, true
}

// end ends a call's span, marking a failure.
func end(s trace.Span, err error) {
	if failed(err) {
		s.SetStatus(codes.Error, err.Error())
	}
	s.End()
}

// DialHook implements redis.Hook.
func (traceCalls) DialHook(next redis.DialHook) redis.DialHook {
	return next
}

// ProcessHook implements redis.Hook.
func (t traceCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if handshake(cmd) || !trace.SpanFromContext(ctx).IsRecording() {
			return next(ctx, cmd)
		}
		op := strings.ToUpper(cmd.Name())
		s, _ := t.span(ctx, "redis "+op, attribute.String("db.operation.name", op))
		err := next(ctx, cmd)
		end(s, err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (t traceCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || handshake(cmds[0]) {
			return next(ctx, cmds)
		}
		s, ok := t.span(ctx, "redis pipeline", attribute.Int("db.operation.batch.size", len(cmds)))
		if !ok {
			return next(ctx, cmds)
		}
		err := next(ctx, cmds)
		end(s, err)
		return err
	}
}
