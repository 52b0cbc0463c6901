package iam

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// APIKeyGrant is the OAuth grant type of IBM Cloud API-key sign-in.
const APIKeyGrant = "urn:ibm:params:oauth:grant-type:apikey"

// Leeway is the clock skew tolerated when checking a token's lifetime.
const Leeway = 5 * time.Second

// Identity is who an access token was issued to.
type Identity struct {
	// IAMID is the subject: the user or service id.
	IAMID string
	// KeyID identifies the API key the token was exchanged for.
	KeyID string
	// Account is the IBM Cloud account (account.bss).
	Account string
	// Name and Email describe the subject for display.
	Name  string
	Email string
}

// claims are the claims of an issued access token.
type claims struct {
	jwt.Claims
	IAMID      string `json:"iam_id"`
	ID         string `json:"id"`
	RealmID    string `json:"realmid"`
	Identifier string `json:"identifier"`
	Name       string `json:"name,omitempty"`
	Email      string `json:"email,omitempty"`
	Account    struct {
		BSS string `json:"bss"`
	} `json:"account"`
	GrantType string `json:"grant_type"`
	Scope     string `json:"scope"`
	ClientID  string `json:"client_id"`
}

// maxVerified bounds the cache of verified tokens.
const maxVerified = 10000

// Signer issues and verifies RS256 access tokens with one key. Verified
// tokens are cached until they expire, so a client polling with the same
// token pays for one signature check.
type Signer struct {
	key    *rsa.PrivateKey
	kid    string
	signer jose.Signer
	issuer string
	ttl    time.Duration

	mu       sync.RWMutex
	verified map[string]verifiedToken
}

// verifiedToken is a cached verification result.
type verifiedToken struct {
	id       Identity
	from, to time.Time // not before, expiry
}

// GenerateKey returns a new 2048-bit RSA signing key.
func GenerateKey() (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating token signing key: %w", err)
	}
	return key, nil
}

// EncodeKey and DecodeKey convert a signing key to and from PKCS#1 PEM,
// so that replicas and restarts can share one key.
func EncodeKey(key *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// DecodeKey parses a key written by EncodeKey.
func DecodeKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "RSA PRIVATE KEY" {
		return nil, errors.New("not a PEM RSA private key")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing token signing key: %w", err)
	}
	return key, nil
}

// NewSigner returns a Signer issuing tokens with the given "iss" claim and
// lifetime. The key id is derived from the public key, so every holder of
// the key publishes the same JWKS.
func NewSigner(key *rsa.PrivateKey, issuer string, ttl time.Duration) (*Signer, error) {
	sum := sha256.Sum256(x509.MarshalPKCS1PublicKey(&key.PublicKey))
	kid := hex.EncodeToString(sum[:8])
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, fmt.Errorf("creating token signer: %w", err)
	}
	return &Signer{key: key, kid: kid, signer: signer, issuer: issuer, ttl: ttl, verified: map[string]verifiedToken{}}, nil
}

// Issue signs an access token for id, valid from now for the signer's
// lifetime, and returns it with its expiry.
func (s *Signer) Issue(id Identity, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.ttl).Truncate(time.Second)
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	c := claims{
		Claims: jwt.Claims{
			Issuer: s.issuer, Subject: id.IAMID, ID: hex.EncodeToString(jti[:]),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(exp),
		},
		IAMID: id.IAMID, ID: id.IAMID, RealmID: "iam", Identifier: id.KeyID, Name: id.Name, Email: id.Email,
		GrantType: APIKeyGrant, Scope: "ibm openid", ClientID: "default",
	}
	c.Account.BSS = id.Account
	token, err := jwt.Signed(s.signer).Claims(c).Serialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing access token: %w", err)
	}
	return token, exp, nil
}

// Verify checks a token's signature, issuer and lifetime and returns the
// identity it was issued to. Its errors are fit to show the caller.
func (s *Signer) Verify(raw string, now time.Time) (Identity, error) {
	s.mu.RLock()
	v, ok := s.verified[raw]
	s.mu.RUnlock()
	if ok {
		if now.After(v.to.Add(Leeway)) {
			return Identity{}, errors.New("the bearer token has expired")
		}
		if now.Add(Leeway).Before(v.from) {
			return Identity{}, errors.New("the bearer token is not valid yet")
		}
		return v.id, nil
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return Identity{}, errors.New("the bearer token is not a valid JWT")
	}
	var c claims
	if err := tok.Claims(&s.key.PublicKey, &c); err != nil {
		return Identity{}, errors.New("the bearer token's signature is not valid")
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: s.issuer, Time: now}, Leeway); err != nil {
		if errors.Is(err, jwt.ErrExpired) {
			return Identity{}, errors.New("the bearer token has expired")
		}
		return Identity{}, fmt.Errorf("the bearer token is not valid: %v", err)
	}
	id := Identity{IAMID: c.IAMID, KeyID: c.Identifier, Account: c.Account.BSS, Name: c.Name, Email: c.Email}
	if c.Expiry != nil && c.NotBefore != nil {
		s.mu.Lock()
		if len(s.verified) >= maxVerified {
			clear(s.verified) // simple bound: tokens verify again after a reset
		}
		s.verified[raw] = verifiedToken{id: id, from: c.NotBefore.Time(), to: c.Expiry.Time()}
		s.mu.Unlock()
	}
	return id, nil
}

// JWKS returns the key set that verifies issued tokens.
func (s *Signer) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &s.key.PublicKey, KeyID: s.kid, Algorithm: "RS256", Use: "sig"}}}
}
