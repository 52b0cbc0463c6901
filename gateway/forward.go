package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
)

// ReadBody reads a request body up to limit bytes; a larger one is a
// 413, and a body with a Content-Encoding (which the gateway would have
// to read one way and the upstream another) a 415.
func ReadBody(r *http.Request, limit int64) ([]byte, *denial.Denial) {
	if err := runtimeapi.PlainBody(r.Header); err != nil {
		return nil, err
	}
	if r.Body == nil || r.ContentLength == 0 && len(r.TransferEncoding) == 0 { // the server read no body
		return nil, nil
	}
	tooLarge := func() *denial.Denial {
		return denial.New("body_too_large",
			fmt.Sprintf("the request body exceeds the gateway's limit of %d bytes", limit))
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, denial.Newf("invalid_body", "reading the request body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, tooLarge()
	}
	return body, nil
}

// bodyWait is how long a request waits for room to hold its body.
const bodyWait = 2 * time.Second

// ReadingRoom is the memory reading one body takes beyond the body
// itself, at most: the facts of a job's circuits are read in place, and
// the largest job the default circuit limits let through needs under
// 7 MiB (go test -bench DecodeMaxSubmission ./runtimeapi).
const ReadingRoom = 8 << 20

// reserveBody takes room for a request's body (its declared size, or the
// limit when it declares none, and ReadingRoom) in the gateway's body
// memory, waiting briefly when other bodies fill it. The room is given
// back by the returned function. Nothing has been read or forwarded when
// it is refused, so the client's retry is safe.
func (g *Gateway) reserveBody(r *http.Request) (func(), *denial.Denial) {
	if g.bodies == nil || r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return func() {}, nil
	}
	size := r.ContentLength
	if size < 0 || size > g.MaxBodyBytes {
		size = g.MaxBodyBytes
	}
	weight := size + ReadingRoom
	ctx, cancel := context.WithTimeout(r.Context(), bodyWait)
	defer cancel()
	if err := g.bodies.Acquire(ctx, weight); err != nil {
		return nil, &denial.Denial{Code: "gateway_busy", RetryAfter: 2,
			Message: "the gateway is reading other large requests and has no room for this body now; nothing was forwarded, retry shortly"}
	}
	return func() { g.bodies.Release(weight) }, nil
}

// checkJSONBody requires a body the gateway decides on to be declared as
// JSON (or not declared): a body the upstream would read as a form or
// as text must not be read by the gateway as JSON.
func checkJSONBody(r *http.Request) *denial.Denial {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	return denial.Newf("invalid_json", "the body is declared as %q; the gateway reads only application/json in UTF-8", ct)
}

// upstreamHeaders are the request headers the Qiskit client and the
// Runtime API use; no other header of the caller reaches the upstream.
var upstreamHeaders = []string{"Accept", "Content-Type", "IBM-API-Version", "X-Qx-Client-Application", "User-Agent"}

// outboundHeader keeps of a caller's headers those the upstream is sent.
func outboundHeader(in http.Header) http.Header {
	out := make(http.Header, len(upstreamHeaders)+3)
	for _, h := range upstreamHeaders {
		if v := in.Values(h); len(v) > 0 {
			out[h] = slices.Clone(v)
		}
	}
	return out
}

// codeUnreachable is the error code of a forward that got no answer: the
// request may or may not have reached the upstream.
const codeUnreachable = "upstream_unreachable"

// forward sends the caller's request to the instance's upstream with the
// instance's real CRN and credentials, the path rebased onto the
// upstream's API base, query unless query is non-nil, and body. Of the
// caller's headers only upstreamHeaders are sent.
func (g *Gateway) forward(w http.ResponseWriter, q *request, query url.Values, body []byte) *denial.Denial {
	creds := g.Credentials(q.in)
	if creds == nil {
		return denial.New("upstream_misconfigured", "instance "+q.in.Alias+" has no upstream credentials")
	}
	token, err := creds.Token(q.r.Context())
	if err != nil {
		g.Logger.Error("obtaining upstream token", "instance", q.in.Alias, "error", err)
		return denial.New("upstream_credentials",
			"the gateway could not obtain upstream credentials for instance "+q.in.Alias+"; nothing was forwarded")
	}
	host, basePath := q.in.UpstreamBase()
	out := q.r.WithContext(q.r.Context()) // a shallow copy: its URL, header and body are replaced below
	u := *q.r.URL
	out.URL = &u
	out.URL.Path = basePath + q.rest
	out.URL.RawPath = ""
	if query != nil {
		out.URL.RawQuery = query.Encode()
	}
	out.Host = host
	out.Header = outboundHeader(q.r.Header)
	out.Header.Set("Authorization", "Bearer "+token)
	out.Header.Set("Service-CRN", q.in.CRN)
	if _, ok := w.(*captured); ok {
		out.Header.Set("Accept-Encoding", "identity") // the gateway reads it
	} else if ae := q.r.Header.Get("Accept-Encoding"); ae != "" {
		out.Header.Set("Accept-Encoding", ae)
	}
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	if len(body) == 0 && q.r.ContentLength <= 0 {
		out.Body = http.NoBody
	}
	if sc := trace.SpanContextFromContext(out.Context()); sc.IsValid() { // the upstream joins the request's trace; no caller's tracestate
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(out.Context(), sc.WithTraceState(trace.TraceState{})), propagation.HeaderCarrier(out.Header))
	}
	start := time.Now()
	err = g.Upstream.Forward(w, out, q.in)
	g.observe(q.r.Context(), StepUpstream, start)
	if err != nil {
		g.Logger.Warn("forwarding upstream", "instance", q.in.Alias, "error", err)
		return denial.New(codeUnreachable, "the upstream of instance "+q.in.Alias+" did not answer")
	}
	return nil
}

// captured is an upstream answer held back so the gateway can read it
// before the caller does.
type captured struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newCaptured() *captured { return &captured{header: http.Header{}} }

// Header implements http.ResponseWriter.
func (c *captured) Header() http.Header { return c.header }

// WriteHeader implements http.ResponseWriter.
func (c *captured) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

// Write implements http.ResponseWriter.
func (c *captured) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(p)
}

// replay writes the captured answer to w, with body in place of the
// captured one when it is non-nil.
func (c *captured) replay(w http.ResponseWriter, body []byte) {
	for k, v := range c.header {
		w.Header()[k] = v
	}
	if body != nil {
		w.Header().Del("Content-Length")
		w.Header().Del("Content-Encoding")
	} else {
		body = c.body.Bytes()
	}
	w.WriteHeader(c.status)
	_, _ = w.Write(body)
}

// forwardCaptured forwards and captures the answer; a forwarding failure
// is returned as the error to send instead.
func (g *Gateway) forwardCaptured(q *request, query url.Values, body []byte) (*captured, *denial.Denial) {
	c := newCaptured()
	if err := g.forward(c, q, query, body); err != nil {
		return nil, err
	}
	return c, nil
}
