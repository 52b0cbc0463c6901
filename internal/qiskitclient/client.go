// Package qiskitclient is a Go client that speaks to a Qiskit Runtime
// endpoint exactly as qiskit-ibm-runtime 0.49 does: the IAM API-key
// exchange, Global Search and Catalog discovery, and the Runtime API with
// the client's headers. qgov's end-to-end tests use it against the
// simulator and the gateway; Session replays a typical client session.
package qiskitclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

// APIVersion is the IBM-API-Version header qiskit-ibm-runtime 0.49 sends.
const APIVersion = "2026-04-15"

// ClientApplication is the X-Qx-Client-Application header it sends.
const ClientApplication = "qiskit-version-2/qiskit_ibm_runtime-0.49.0/qiskit"

// Client is one instance's client, as qiskit-ibm-runtime's RuntimeClient.
type Client struct {
	// BaseURL serves every endpoint under IBM's paths: /identity/token,
	// /global-search, /global-catalog/api/v1 and /api/v1.
	BaseURL string
	// APIKey is exchanged for an IAM bearer token.
	APIKey string
	// CRN is sent as Service-CRN on Runtime API calls.
	CRN string
	// HTTP is the HTTP client (default http.DefaultClient).
	HTTP *http.Client

	mu      sync.Mutex
	token   string
	refresh time.Time
}

// Error is a non-2xx answer.
type Error struct {
	Method, Path string
	Status       int
	Body         []byte
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.Path, e.Status, bytes.TrimSpace(e.Body))
}

// Item returns the first entry of a Runtime API error body, if it is one.
func (e *Error) Item() (runtimeapi.ErrorItem, bool) {
	var b runtimeapi.ErrorBody
	if json.Unmarshal(e.Body, &b) != nil || len(b.Errors) == 0 {
		return runtimeapi.ErrorItem{}, false
	}
	return b.Errors[0], true
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// TokenResponse is the IAM token answer.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Expiration  int64  `json:"expiration"`
}

// ExchangeAPIKey performs IAM's API-key grant exactly as ibm-cloud-sdk-core
// sends it (form body, no Authorization header).
func (c *Client) ExchangeAPIKey(ctx context.Context) (TokenResponse, error) {
	form := url.Values{"grant_type": {"urn:ibm:params:oauth:grant-type:apikey"}, "apikey": {c.APIKey}, "response_type": {"cloud_iam"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/identity/token", strings.NewReader(form.Encode()))
	if err != nil {
		return TokenResponse{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ibm-python-sdk-core/iam-authenticator-3.25.0")
	var tr TokenResponse
	if err := c.send(req, &tr); err != nil {
		return tr, err
	}
	return tr, nil
}

// Token returns a cached IAM token, refreshed at 80 % of its lifetime as
// the SDK does.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Now().Before(c.refresh) {
		return c.token, nil
	}
	tr, err := c.ExchangeAPIKey(ctx)
	if err != nil {
		return "", fmt.Errorf("IAM token exchange: %w", err)
	}
	c.token = tr.AccessToken
	c.refresh = time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second * 8 / 10)
	return c.token, nil
}

// Do sends a Runtime API request (path relative to /api/v1) with the
// client's headers and returns the status and body; body may be nil, a
// []byte or a value to encode as JSON.
func (c *Client) Do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	return c.request(ctx, method, "/api/v1"+path, body, true)
}

func (c *Client) request(ctx context.Context, method, path string, body any, runtime bool) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, ok := body.([]byte)
		if !ok {
			var err error
			if raw, err = json.Marshal(body); err != nil {
				return 0, nil, err
			}
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	token, err := c.Token(ctx)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if runtime {
		req.Header.Set("Service-CRN", c.CRN)
		req.Header.Set("IBM-API-Version", APIVersion)
		req.Header.Set("X-Qx-Client-Application", ClientApplication)
		req.Header.Set("Accept-Encoding", "identity")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

func (c *Client) send(req *http.Request, out any) error {
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &Error{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Body: raw}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decoding %q: %w", req.Method, req.URL.Path, raw, err)
	}
	return nil
}

// JSON sends a Runtime API request; a non-2xx answer is an *Error, a 2xx
// answer is decoded into out (unless out is nil).
func (c *Client) JSON(ctx context.Context, method, path string, body, out any) error {
	status, raw, err := c.Do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return &Error{Method: method, Path: "/api/v1" + path, Status: status, Body: raw}
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decoding %q: %w", method, path, raw, err)
	}
	return nil
}

// Instance is a discovered service instance.
type Instance struct {
	CRN, Name, Plan, PricingType string
}

// Instances discovers the instances the API key may use, as
// CloudAccount.list_instances does: Global Search (dropping items without
// doc.extensions), then the Global Catalog entry of each plan.
func (c *Client) Instances(ctx context.Context) ([]Instance, error) {
	var out []Instance
	cursor := ""
	for {
		body := map[string]any{"query": "service_name:quantum-computing", "fields": []string{"crn", "service_plan_unique_id", "name", "doc", "tags"}}
		if cursor != "" {
			body["search_cursor"] = cursor
		}
		var page struct {
			Items []struct {
				CRN    string `json:"crn"`
				Name   string `json:"name"`
				PlanID string `json:"service_plan_unique_id"`
				Doc    struct {
					Extensions map[string]any `json:"extensions"`
				} `json:"doc"`
			} `json:"items"`
			Cursor string `json:"search_cursor"`
		}
		status, raw, err := c.request(ctx, http.MethodPost, "/global-search/v3/resources/search?limit=100", body, false)
		if err != nil {
			return nil, err
		}
		if status/100 != 2 {
			return nil, &Error{Method: http.MethodPost, Path: "/global-search/v3/resources/search", Status: status, Body: raw}
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("global search: %w", err)
		}
		for _, it := range page.Items {
			if len(it.Doc.Extensions) == 0 {
				continue
			}
			in := Instance{CRN: it.CRN, Name: it.Name, Plan: "unknown", PricingType: "unknown"}
			var entry struct {
				OverviewUI map[string]struct {
					DisplayName string `json:"display_name"`
				} `json:"overview_ui"`
				Metadata struct {
					Pricing struct {
						Type string `json:"type"`
					} `json:"pricing"`
				} `json:"metadata"`
			}
			status, raw, err := c.request(ctx, http.MethodGet, "/global-catalog/api/v1/"+url.PathEscape(it.PlanID), nil, false)
			if err != nil {
				return nil, err
			}
			if status/100 == 2 && json.Unmarshal(raw, &entry) == nil {
				in.Plan = strings.ToLower(entry.OverviewUI["en"].DisplayName)
				in.PricingType = strings.ToLower(entry.Metadata.Pricing.Type)
			}
			out = append(out, in)
		}
		if page.Cursor == "" {
			return out, nil
		}
		cursor = page.Cursor
	}
}

// Submit posts a job (POST /jobs) and returns the answer.
func (c *Client) Submit(ctx context.Context, req runtimeapi.JobRequest) (runtimeapi.JobCreated, error) {
	if req.LogLevel == "" {
		req.LogLevel = "WARNING"
	}
	var created runtimeapi.JobCreated
	err := c.JSON(ctx, http.MethodPost, "/jobs", req, &created)
	return created, err
}

// Job fetches a job without its params, as job.status() does.
func (c *Client) Job(ctx context.Context, id string) (runtimeapi.Job, error) {
	var j runtimeapi.Job
	err := c.JSON(ctx, http.MethodGet, "/jobs/"+id+"?exclude_params=true", nil, &j)
	return j, err
}

// Wait polls a job until its state is final, as job.result() does.
func (c *Client) Wait(ctx context.Context, id string, poll time.Duration) (runtimeapi.Job, error) {
	for {
		j, err := c.Job(ctx, id)
		if err != nil || runtimeapi.Final(j.State.Status) {
			return j, err
		}
		select {
		case <-ctx.Done():
			return j, fmt.Errorf("waiting for job %s: %w", id, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// Results fetches a job's results as text (the client sends no Accept).
func (c *Client) Results(ctx context.Context, id string) ([]byte, error) {
	status, raw, err := c.Do(ctx, http.MethodGet, "/jobs/"+id+"/results", nil)
	if err != nil {
		return nil, err
	}
	if status/100 != 2 {
		return nil, &Error{Method: http.MethodGet, Path: "/api/v1/jobs/" + id + "/results", Status: status, Body: raw}
	}
	return raw, nil
}
