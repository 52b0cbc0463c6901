package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// expiryMargin is how long before its expiry a token is no longer used.
const expiryMargin = 10 * time.Second

// TokenSource exchanges an IBM Cloud API key for access tokens at an IAM
// URL. It caches the token, refreshes it in the background once 80% of its
// lifetime has passed (as IBM's SDKs do) and blocks callers only when no
// usable token is held. It is safe for concurrent use.
type TokenSource struct {
	url    string
	apiKey string
	client *http.Client
	now    func() time.Time

	mu         sync.Mutex
	token      string
	refreshAt  time.Time
	expiresAt  time.Time
	refreshing chan struct{} // closed when the running exchange ends
	lastErr    error

	exchanged, failed atomic.Uint64
}

// Exchanges counts the token exchanges this source made and those that
// failed.
func (ts *TokenSource) Exchanges() (ok, failed uint64) {
	return ts.exchanged.Load(), ts.failed.Load()
}

// NewTokenSource returns a TokenSource for the IAM at iamURL (its
// /identity/token endpoint is appended unless already present).
func NewTokenSource(iamURL, apiKey string, client *http.Client) *TokenSource {
	u := strings.TrimRight(iamURL, "/")
	if !strings.HasSuffix(u, "/identity/token") {
		u += "/identity/token"
	}
	if client == nil {
		// no redirects: the API key goes to the IAM URL the operator named
		// and nowhere else
		client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &TokenSource{url: u, apiKey: apiKey, client: client, now: time.Now}
}

// Token returns a valid access token, exchanging the API key when none is
// cached or the cached one is about to expire.
func (ts *TokenSource) Token(ctx context.Context) (string, error) {
	for {
		ts.mu.Lock()
		now := ts.now()
		valid := ts.token != "" && now.Before(ts.expiresAt.Add(-expiryMargin))
		if valid && now.Before(ts.refreshAt) {
			tok := ts.token
			ts.mu.Unlock()
			return tok, nil
		}
		wait := ts.refreshing
		if wait == nil {
			wait = make(chan struct{})
			ts.refreshing = wait
			go ts.refresh(wait)
		}
		if valid {
			tok := ts.token // refreshing in the background
			ts.mu.Unlock()
			return tok, nil
		}
		ts.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		ts.mu.Lock()
		err, ok := ts.lastErr, ts.token != "" && ts.now().Before(ts.expiresAt.Add(-expiryMargin))
		ts.mu.Unlock()
		if !ok {
			if err == nil {
				err = errors.New("the IAM token expired at once")
			}
			return "", err
		}
	}
}

// refresh runs one exchange and publishes its outcome.
func (ts *TokenSource) refresh(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, iat, exp, err := ts.exchange(ctx)
	if err != nil {
		ts.failed.Add(1)
	} else {
		ts.exchanged.Add(1)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if err == nil {
		// The lifetime is measured on the local clock from receipt, so a
		// skewed IAM clock cannot make a token look fresher than it is.
		life, received := exp.Sub(iat), ts.now()
		ts.token, ts.expiresAt = tok, received.Add(life)
		ts.refreshAt = received.Add(life * 8 / 10)
	}
	ts.lastErr = err
	ts.refreshing = nil
	close(done)
}

// exchange performs the API-key grant and reads the token's lifetime from
// its iat and exp claims (the signature is the issuer's business).
func (ts *TokenSource) exchange(ctx context.Context) (token string, iat, exp time.Time, err error) {
	form := url.Values{"grant_type": {APIKeyGrant}, "apikey": {ts.apiKey}, "response_type": {"cloud_iam"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.url, strings.NewReader(form.Encode()))
	if err != nil {
		return "", iat, exp, fmt.Errorf("building IAM token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := ts.client.Do(req)
	if err != nil {
		return "", iat, exp, fmt.Errorf("IAM token exchange at %s: %w", ts.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", iat, exp, fmt.Errorf("reading IAM token answer: %w", err)
	}
	var answer struct {
		AccessToken  string `json:"access_token"`
		ErrorCode    string `json:"errorCode"`
		ErrorMessage string `json:"errorMessage"`
	}
	_ = json.Unmarshal(body, &answer)
	if resp.StatusCode != http.StatusOK {
		return "", iat, exp, fmt.Errorf("IAM at %s refused the API key: %d %s %s", ts.url, resp.StatusCode, answer.ErrorCode, answer.ErrorMessage)
	}
	if answer.AccessToken == "" {
		return "", iat, exp, fmt.Errorf("IAM at %s answered without an access_token", ts.url)
	}
	parsed, err := jwt.ParseSigned(answer.AccessToken, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.PS256})
	if err != nil {
		return "", iat, exp, fmt.Errorf("IAM access token is not a JWT: %w", err)
	}
	var c jwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&c); err != nil || c.IssuedAt == nil || c.Expiry == nil {
		return "", iat, exp, errors.New("IAM access token lacks iat or exp")
	}
	return answer.AccessToken, c.IssuedAt.Time(), c.Expiry.Time(), nil
}
