package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
)

// Key-set refreshes are allowed at this rate, with this burst, per
// provider: enough to follow a rotation at once, too few for tokens with
// made-up key ids to hammer the provider's JWKS endpoint.
const (
	refreshEvery = 30 * time.Second
	refreshBurst = 2
)

// errUnknownKey refuses a token signed with a key id the provider's JWKS
// does not hold.
var errUnknownKey = errors.New("signed with a key the issuer does not publish")

// limitedKeySet is an oidc.KeySet over a provider's JWKS. A token naming
// a key id the cached set lacks triggers a refresh, as OpenID Connect
// recommends, but only within the refresh rate; a token whose key id is
// known but whose signature is wrong never triggers one.
type limitedKeySet struct {
	url   string
	ctx   context.Context // carries the HTTP client
	algs  []jose.SignatureAlgorithm
	limit *rate.Limiter

	mu   sync.Mutex
	keys []jose.JSONWebKey
}

func newLimitedKeySet(ctx context.Context, jwksURL string, algs []string) *limitedKeySet {
	k := &limitedKeySet{url: jwksURL, ctx: ctx, limit: rate.NewLimiter(rate.Every(refreshEvery), refreshBurst)}
	for _, a := range algs {
		k.algs = append(k.algs, jose.SignatureAlgorithm(a))
	}
	return k
}

// VerifySignature implements oidc.KeySet.
func (k *limitedKeySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, k.algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("malformed JWS")
	}
	kid := jws.Signatures[0].Header.KeyID
	matching := k.matching(kid)
	if len(matching) == 0 && k.limit.Allow() {
		if err := k.refresh(ctx); err != nil {
			return nil, err
		}
		matching = k.matching(kid)
	}
	if len(matching) == 0 {
		return nil, errUnknownKey
	}
	for _, key := range matching {
		if payload, err := jws.Verify(&key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("signature does not verify")
}

// matching returns the cached keys a key id selects (all for none).
func (k *limitedKeySet) matching(kid string) []jose.JSONWebKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []jose.JSONWebKey
	for _, key := range k.keys {
		if kid == "" || key.KeyID == kid {
			out = append(out, key)
		}
	}
	return out
}

// refresh fetches the key set.
func (k *limitedKeySet) refresh(ctx context.Context) error {
	client, _ := k.ctx.Value(oauth2.HTTPClient).(*http.Client)
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return fmt.Errorf("jwks request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching keys: %s answered %s", k.url, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("decoding keys: %w", err)
	}
	k.mu.Lock()
	k.keys = set.Keys
	k.mu.Unlock()
	return nil
}
