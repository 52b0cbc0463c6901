package notify

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// providerBox holds the tracer provider of traced requests (an
// atomic.Value needs one concrete type).
type providerBox struct{ trace.TracerProvider }

// sent records the sending of a message as a span of ctx's trace, when
// the request is traced (Caddy's tracing directive), and returns the
// traceparent its tries join ("" when it is not traced). The notifier
// keeps the request's tracer provider for the tries' spans.
func (n *Notifier) sent(ctx context.Context, m Message) string {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ""
	}
	tp := parent.TracerProvider()
	n.provider.Store(providerBox{tp})
	ctx, s := tp.Tracer("qgov").Start(ctx, "qgov.notify", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("qgov.notification.event", m.Event), attribute.String("qgov.notification.id", m.ID)))
	defer s.End()
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// trying starts the span of a try, in the trace the message was sent
// in, when the message was traced and this notifier has a tracer
// provider (it has served traced requests); end ends it.
func (n *Notifier) trying(p pending) (ctx context.Context, end func(error)) {
	box, _ := n.provider.Load().(providerBox)
	if p.Trace == "" || box.TracerProvider == nil {
		return n.tryCtx, func(error) {}
	}
	ctx = propagation.TraceContext{}.Extract(n.tryCtx, propagation.MapCarrier{"traceparent": p.Trace})
	ctx, s := box.Tracer("qgov").Start(ctx, "qgov.notify.deliver", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("qgov.notification.channel", p.Channel), attribute.String("qgov.notification.id", p.Message.ID),
			attribute.String("qgov.notification.try", strconv.Itoa(p.Tries+1))))
	return ctx, func(err error) {
		if err != nil {
			s.SetStatus(codes.Error, err.Error())
		}
		s.End()
	}
}
