package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/qgov/qgov/runtimeapi"
)

// readBody reads a request body up to limit bytes; a larger one is a 413.
func readBody(r *http.Request, limit int64) ([]byte, *runtimeapi.Error) {
	tooLarge := runtimeapi.Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
		fmt.Sprintf("the request body exceeds the gateway's limit of %d bytes", limit))
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, runtimeapi.BadRequest("invalid_body", "reading the request body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, tooLarge
	}
	return body, nil
}

// clientOnlyHeaders are request headers meant for qgov, never sent upstream.
var clientOnlyHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", ProjectHeader}

// forward sends the caller's request to the instance's upstream with the
// instance's real CRN and credentials, the path rebased onto the
// upstream's API base, query unless query is non-nil, and body.
func (g *Gateway) forward(w http.ResponseWriter, q *request, query url.Values, body []byte) *runtimeapi.Error {
	creds := g.Credentials(q.in)
	if creds == nil {
		return runtimeapi.Errorf(http.StatusBadGateway, "upstream_misconfigured", "instance "+q.in.Alias+" has no upstream credentials")
	}
	token, err := creds.Token(q.r.Context())
	if err != nil {
		g.Logger.Error("obtaining upstream token", "instance", q.in.Alias, "error", err)
		return runtimeapi.Errorf(http.StatusBadGateway, "upstream_credentials",
			"the gateway could not obtain upstream credentials for instance "+q.in.Alias+"; nothing was forwarded")
	}
	host, basePath := q.in.UpstreamBase()
	out := q.r.Clone(q.r.Context())
	out.URL.Path = basePath + q.rest
	out.URL.RawPath = ""
	if query != nil {
		out.URL.RawQuery = query.Encode()
	}
	out.Host = host
	for _, h := range clientOnlyHeaders {
		out.Header.Del(h)
	}
	out.Header.Set("Authorization", "Bearer "+token)
	out.Header.Set("Service-CRN", q.in.CRN)
	if _, ok := w.(*captured); ok {
		out.Header.Set("Accept-Encoding", "identity") // the gateway reads it
	}
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	if len(body) == 0 && q.r.ContentLength <= 0 {
		out.Body = http.NoBody
	}
	if err := g.Upstream.Forward(w, out, q.in); err != nil {
		g.Logger.Warn("forwarding upstream", "instance", q.in.Alias, "error", err)
		return runtimeapi.Errorf(http.StatusBadGateway, "upstream_unreachable", "the upstream of instance "+q.in.Alias+" did not answer")
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
func (g *Gateway) forwardCaptured(q *request, query url.Values, body []byte) (*captured, *runtimeapi.Error) {
	c := newCaptured()
	if err := g.forward(c, q, query, body); err != nil {
		return nil, err
	}
	return c, nil
}
