package iam

import (
	"context"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testIAM is a token endpoint backed by a Signer that counts exchanges.
type testIAM struct {
	*httptest.Server
	signer    *Signer
	exchanges atomic.Int32
	key       atomic.Value // the accepted API key
}

func newTestIAM(t *testing.T, ttl time.Duration) *testIAM {
	t.Helper()
	key, err := GenerateKey()
	require.NoError(t, err)
	s, err := NewSigner([]*rsa.PrivateKey{key}, "test-iam", ttl)
	require.NoError(t, err)
	ti := &testIAM{signer: s}
	ti.key.Store("right-key")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /identity/token", func(w http.ResponseWriter, r *http.Request) {
		apiKey, ok := ReadAPIKeyGrant(w, r)
		if !ok {
			return
		}
		ti.exchanges.Add(1)
		if apiKey != ti.key.Load() {
			WriteUnknownKey(w)
			return
		}
		s.WriteToken(w, Identity{IAMID: "svc", KeyID: "k1", Account: "acct"}, time.Now())
	})
	mux.HandleFunc("GET /identity/keys", s.ServeKeys)
	ti.Server = httptest.NewServer(mux)
	t.Cleanup(ti.Close)
	return ti
}

func TestSignerRoundTrip(t *testing.T) {
	key, err := GenerateKey()
	require.NoError(t, err)
	s, err := NewSigner([]*rsa.PrivateKey{key}, "iss", time.Hour)
	require.NoError(t, err)
	now := time.Now()
	tok, exp, err := s.Issue(Identity{IAMID: "u1", KeyID: "k", Account: "a", Name: "Fatima"}, now)
	require.NoError(t, err)
	assert.Equal(t, now.Add(time.Hour).Truncate(time.Second), exp)

	id, err := s.Verify(tok, now)
	require.NoError(t, err)
	assert.True(t, exp.Equal(id.Expiry))
	id.Expiry = time.Time{}
	assert.Equal(t, Identity{IAMID: "u1", KeyID: "k", Account: "a", Name: "Fatima"}, id)

	// The PEM round trip keeps the key id, so replicas verify each other's tokens.
	decoded, err := DecodeKey(EncodeKey(key))
	require.NoError(t, err)
	s2, err := NewSigner([]*rsa.PrivateKey{decoded}, "iss", time.Hour)
	require.NoError(t, err)
	_, err = s2.Verify(tok, now)
	require.NoError(t, err)
	assert.Equal(t, s.JWKS().Keys[0].KeyID, s2.JWKS().Keys[0].KeyID)

	other, err := GenerateKey()
	require.NoError(t, err)
	s3, err := NewSigner([]*rsa.PrivateKey{other}, "iss", time.Hour)
	require.NoError(t, err)
	s4, err := NewSigner([]*rsa.PrivateKey{key}, "other-iss", time.Hour)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		signer *Signer
		token  string
		at     time.Time
		want   string
	}{
		{"expired", s, tok, now.Add(2 * time.Hour), "expired"},
		{"foreign key", s3, tok, now, "signature"},
		{"wrong issuer", s4, tok, now, "not valid"},
		{"garbage", s, "a.b.c", now, "not a valid JWT"},
		{"tampered", s, tok[:len(tok)-4] + "AAAA", now, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.signer.Verify(tc.token, tc.at)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err = DecodeKey([]byte("not pem"))
	assert.Error(t, err)
}

func TestTokenSourceCachesAndRefreshes(t *testing.T) {
	ti := newTestIAM(t, time.Hour)
	ts := NewTokenSource(ti.URL, "right-key", nil)
	clock := time.Now()
	var mu sync.Mutex
	ts.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }

	// Concurrent first callers share one exchange.
	var wg sync.WaitGroup
	tokens := make([]string, 8)
	for i := range tokens {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tok, err := ts.Token(context.Background())
			assert.NoError(t, err)
			tokens[i] = tok
		}(i)
	}
	wg.Wait()
	assert.EqualValues(t, 1, ti.exchanges.Load())
	for _, tok := range tokens {
		assert.Equal(t, tokens[0], tok)
	}
	id, err := ti.signer.Verify(tokens[0], time.Now())
	require.NoError(t, err)
	assert.Equal(t, "svc", id.IAMID)

	// Before 80% of the lifetime the cached token is served.
	advance(40 * time.Minute)
	_, err = ts.Token(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 1, ti.exchanges.Load())

	// Past 80% the old token is still served while one refresh runs.
	advance(10 * time.Minute)
	_, err = ts.Token(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return ti.exchanges.Load() == 2 && ts.refreshing == nil
	}, 5*time.Second, 5*time.Millisecond)

	// Past expiry with a failing IAM the caller gets the IAM's error.
	ti.key.Store("rotated")
	advance(2 * time.Hour)
	_, err = ts.Token(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BXNIM0415E")
	assert.NotContains(t, err.Error(), "right-key", "the API key never appears in errors")
	done, failed := ts.Exchanges()
	assert.Equal(t, [2]uint64{2, 1}, [2]uint64{done, failed}, "two exchanges, then one refused")
}

func TestTokenSourceErrors(t *testing.T) {
	ti := newTestIAM(t, time.Hour)
	for _, tc := range []struct {
		name, url, want string
	}{
		{"unknown key", ti.URL, "refused the API key: 400 BXNIM0415E"},
		{"unreachable", "http://127.0.0.1:1", "IAM token exchange"},
		{"not IAM", ti.URL + "/nothing", "404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewTokenSource(tc.url, "wrong-key", nil).Token(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// A full /identity/token URL is accepted as is.
	ts := NewTokenSource(ti.URL+"/identity/token", "right-key", nil)
	tok, err := ts.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, strings.Count(tok, ".")+1)
}
