package govcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/qgov/qgov/internal/qiskitclient"
)

// Exit statuses of the commands that call a running gateway.
const (
	ExitOK        = 0
	ExitFailed    = 1 // the gateway could not be reached, or answered 5xx
	ExitInvalid   = 2 // bad arguments or input (400, 413)
	ExitDenied    = 3 // 401 or 403
	ExitNotFound  = 4 // 404
	ExitConflict  = 5 // 409, 412 or 428: managed by config, exists, stale ETag
	ExitThrottled = 6 // 429
)

// urlEnv names the environment variable with the gateway's base URL.
const urlEnv = "QGOV_URL"

// apiClient calls a running gateway's governance API with a token
// exchanged for the key in QGOV_API_KEY.
type apiClient struct {
	base, token string
	http        *http.Client
	// progress, when set, is told how far a download got.
	progress func(done, total int64)
}

// gatewayURL is --url, else QGOV_URL, else the demo's gateway.
func gatewayURL(flag string) string {
	switch {
	case flag != "":
		return flag
	case os.Getenv(urlEnv) != "":
		return os.Getenv(urlEnv)
	}
	return "http://127.0.0.1:8080"
}

func newAPIClient(ctx context.Context, base string, timeout time.Duration) (*apiClient, error) {
	key := os.Getenv(apiKeyEnv)
	if key == "" {
		return nil, fmt.Errorf("set %s to a qgov API key", apiKeyEnv)
	}
	base = strings.TrimRight(gatewayURL(base), "/")
	// the timeout bounds the wait for the gateway's answer, not the
	// download of a large one (a report)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = timeout
	hc := &http.Client{Transport: tr}
	token, err := (&qiskitclient.Client{BaseURL: base, APIKey: key, HTTP: hc}).Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("exchanging the API key at %s: %w", base, err)
	}
	return &apiClient{base: base, token: token, http: hc}, nil
}

// apiError is an error answer of the gateway.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// exitCode maps an error to the command's exit status.
func exitCode(err error) int {
	var ae *apiError
	if !errors.As(err, &ae) {
		return ExitFailed
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return ExitInvalid
	case http.StatusUnauthorized, http.StatusForbidden:
		return ExitDenied
	case http.StatusNotFound:
		return ExitNotFound
	case http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired:
		return ExitConflict
	case http.StatusTooManyRequests:
		return ExitThrottled
	}
	return ExitFailed
}

// call sends a request; a JSON answer is decoded into out when given.
// It returns the answer's body and headers; an error answer becomes an
// *apiError.
func (c *apiClient) call(ctx context.Context, method, path string, body []byte, header http.Header, out any) ([]byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var src io.Reader = resp.Body
	if c.progress != nil {
		src = &progressReader{r: resp.Body, total: resp.ContentLength, report: c.progress}
	}
	data, err := io.ReadAll(src)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Errors []struct{ Code, Message string } `json:"errors"`
		}
		ae := &apiError{Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
		if json.Unmarshal(data, &e) == nil && len(e.Errors) > 0 {
			ae.Code, ae.Message = e.Errors[0].Code, e.Errors[0].Message
		}
		return nil, nil, ae
	}
	if out != nil {
		return data, resp.Header, json.Unmarshal(data, out)
	}
	return data, resp.Header, nil
}

// get fetches a path; a JSON answer is decoded into out when given.
func (c *apiClient) get(ctx context.Context, path string, out any) ([]byte, error) {
	data, _, err := c.call(ctx, http.MethodGet, path, nil, nil, out)
	return data, err
}

// progressReader reports how much of a body was read.
type progressReader struct {
	r      io.Reader
	done   int64
	total  int64
	report func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	p.report(p.done, p.total)
	return n, err
}

// progressBar draws a download's progress on w as
// "[#########-----------]  45%  1.2 MiB of 2.6 MiB".
func progressBar(w io.Writer, label string) func(done, total int64) {
	return func(done, total int64) {
		const width = 30
		if total <= 0 {
			fmt.Fprintf(w, "\r%s %s", label, size(done))
			return
		}
		filled := int(done * width / total)
		fmt.Fprintf(w, "\r%s [%s%s] %3d%%  %s of %s", label, strings.Repeat("#", filled), strings.Repeat("-", width-filled),
			done*100/total, size(done), size(total))
		if done >= total {
			fmt.Fprintln(w)
		}
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// isTerminal reports whether f is a terminal, where a progress bar
// belongs.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
