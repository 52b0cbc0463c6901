package simulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/qgov/qgov/runtimeapi"
)

// APIKeyGrant is the OAuth grant type of IBM Cloud API-key sign-in.
const APIKeyGrant = "urn:ibm:params:oauth:grant-type:apikey"

// identity is the caller an API key stands for.
type identity struct {
	IAMID   string
	KeyID   string
	Account string
	hash    [32]byte
}

// keyID returns a stable, non-secret identifier of an API key and the
// key's full hash.
func keyID(apiKey string) (string, [32]byte) {
	sum := sha256.Sum256([]byte(apiKey))
	return hex.EncodeToString(sum[:8]), sum
}

// iamClaims are the claims of an issued access token, shaped like IBM
// Cloud IAM's (numeric iat and exp, iam_id, account.bss).
type iamClaims struct {
	jwt.Claims
	IAMID      string `json:"iam_id"`
	ID         string `json:"id"`
	RealmID    string `json:"realmid"`
	Identifier string `json:"identifier"`
	Account    struct {
		BSS string `json:"bss"`
	} `json:"account"`
	GrantType string `json:"grant_type"`
	Scope     string `json:"scope"`
	ClientID  string `json:"client_id"`
}

// tokenIssuer signs and verifies RS256 access tokens.
type tokenIssuer struct {
	key    *rsa.PrivateKey
	kid    string
	signer jose.Signer
	issuer string
	ttl    time.Duration
}

func newTokenIssuer(issuer string, ttl time.Duration) (*tokenIssuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating token signing key: %w", err)
	}
	var kidBytes [8]byte
	_, _ = rand.Read(kidBytes[:])
	kid := hex.EncodeToString(kidBytes[:])
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, fmt.Errorf("creating token signer: %w", err)
	}
	return &tokenIssuer{key: key, kid: kid, signer: signer, issuer: issuer, ttl: ttl}, nil
}

func (t *tokenIssuer) issue(id identity, now time.Time) (string, time.Time, error) {
	exp := now.Add(t.ttl).Truncate(time.Second)
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	c := iamClaims{
		Claims: jwt.Claims{
			Issuer: t.issuer, Subject: id.IAMID, ID: hex.EncodeToString(jti[:]),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(exp),
		},
		IAMID: id.IAMID, ID: id.IAMID, RealmID: "iam", Identifier: id.KeyID,
		GrantType: APIKeyGrant, Scope: "ibm openid", ClientID: "default",
	}
	c.Account.BSS = id.Account
	token, err := jwt.Signed(t.signer).Claims(c).Serialize()
	return token, exp, err
}

// verify checks a token's signature, issuer and lifetime and returns the
// identity it was issued to.
func (t *tokenIssuer) verify(raw string, now time.Time) (identity, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return identity{}, errors.New("the bearer token is not a valid JWT")
	}
	var c iamClaims
	if err := tok.Claims(&t.key.PublicKey, &c); err != nil {
		return identity{}, errors.New("the bearer token's signature is not valid")
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: t.issuer, Time: now}, 5*time.Second); err != nil {
		if errors.Is(err, jwt.ErrExpired) {
			return identity{}, errors.New("the bearer token has expired")
		}
		return identity{}, fmt.Errorf("the bearer token is not valid: %v", err)
	}
	return identity{IAMID: c.IAMID, KeyID: c.Identifier, Account: c.Account.BSS}, nil
}

func (t *tokenIssuer) jwks() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &t.key.PublicKey, KeyID: t.kid, Algorithm: "RS256", Use: "sig"}}}
}

// iamError is IBM IAM's error body.
func iamError(w http.ResponseWriter, status int, code, message string) {
	runtimeapi.WriteJSON(w, status, map[string]any{
		"errorCode": code, "errorMessage": message,
		"context": map[string]string{"requestId": runtimeapi.NewTrace()},
	})
}

// handleToken serves POST /identity/token: the API-key grant answered
// with a signed JWT access token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		iamError(w, http.StatusBadRequest, "BXNIM0109E", "the request body must be application/x-www-form-urlencoded")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != APIKeyGrant {
		iamError(w, http.StatusBadRequest, "BXNIM0109E", fmt.Sprintf("Property 'grant_type' must be %q, got %q", APIKeyGrant, g))
		return
	}
	apiKey := strings.TrimSpace(r.PostForm.Get("apikey"))
	if apiKey == "" {
		iamError(w, http.StatusBadRequest, "BXNIM0109E", "Property 'apikey' is missing or empty")
		return
	}
	id, ok := s.lookupKey(apiKey)
	if !ok {
		iamError(w, http.StatusBadRequest, "BXNIM0415E", "Provided API key could not be found.")
		return
	}
	now := s.now()
	token, exp, err := s.tokens.issue(id, now)
	if err != nil {
		iamError(w, http.StatusInternalServerError, "BXNIM0001E", "token signing failed")
		return
	}
	runtimeapi.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token":  token,
		"refresh_token": "not_supported",
		"token_type":    "Bearer",
		"expires_in":    int(exp.Sub(now).Seconds()),
		"expiration":    exp.Unix(),
		"scope":         "ibm openid",
	})
}

// handleKeys serves GET /identity/keys: the JWKS that verifies issued tokens.
func (s *Server) handleKeys(w http.ResponseWriter, _ *http.Request) {
	runtimeapi.WriteJSON(w, http.StatusOK, s.tokens.jwks())
}
