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
	// Expiry is when a verified token expires.
	Expiry time.Time
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

// Signer issues and verifies RS256 access tokens. It signs with its
// current key and verifies with any of its keys, so keys can rotate
// while tokens signed with the previous one are still valid.
type Signer struct {
	issuer string
	ttl    time.Duration

	mu     sync.RWMutex
	keys   []*rsa.PrivateKey // current first
	byKID  map[string]*rsa.PublicKey
	signer jose.Signer
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
// lifetime, signing with keys[0] and verifying with every key.
func NewSigner(keys []*rsa.PrivateKey, issuer string, ttl time.Duration) (*Signer, error) {
	s := &Signer{issuer: issuer, ttl: ttl}
	return s, s.SetKeys(keys)
}

// KeyID derives a key's id from its public key, so every holder of the
// key publishes the same JWKS.
func KeyID(key *rsa.PublicKey) string {
	sum := sha256.Sum256(x509.MarshalPKCS1PublicKey(key))
	return hex.EncodeToString(sum[:8])
}

// SetKeys replaces the keys: keys[0] signs from now on.
func (s *Signer) SetKeys(keys []*rsa.PrivateKey) error {
	if len(keys) == 0 {
		return errors.New("a token signer needs a key")
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: keys[0], KeyID: KeyID(&keys[0].PublicKey)}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return fmt.Errorf("creating token signer: %w", err)
	}
	byKID := map[string]*rsa.PublicKey{}
	for _, k := range keys {
		byKID[KeyID(&k.PublicKey)] = &k.PublicKey
	}
	s.mu.Lock()
	s.keys, s.byKID, s.signer = keys, byKID, signer
	s.mu.Unlock()
	return nil
}

// Issuer returns the "iss" claim of the tokens the signer issues.
func (s *Signer) Issuer() string { return s.issuer }

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
	s.mu.RLock()
	signer := s.signer
	s.mu.RUnlock()
	token, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing access token: %w", err)
	}
	return token, exp, nil
}

// Verify checks a token's signature, issuer and lifetime and returns the
// identity it was issued to. Its errors are fit to show the caller.
func (s *Signer) Verify(raw string, now time.Time) (Identity, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(tok.Headers) != 1 {
		return Identity{}, errors.New("the bearer token is not a valid JWT")
	}
	s.mu.RLock()
	pub := s.byKID[tok.Headers[0].KeyID]
	s.mu.RUnlock()
	var c claims
	if pub == nil || tok.Claims(pub, &c) != nil {
		return Identity{}, errors.New("the bearer token's signature is not valid")
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: s.issuer, Time: now}, Leeway); err != nil {
		if errors.Is(err, jwt.ErrExpired) {
			return Identity{}, errors.New("the bearer token has expired")
		}
		return Identity{}, fmt.Errorf("the bearer token is not valid: %v", err)
	}
	if c.Expiry == nil {
		return Identity{}, errors.New("the bearer token has no expiry")
	}
	return Identity{IAMID: c.IAMID, KeyID: c.Identifier, Account: c.Account.BSS, Name: c.Name, Email: c.Email, Expiry: c.Expiry.Time()}, nil
}

// JWKS returns the key set that verifies issued tokens.
func (s *Signer) JWKS() jose.JSONWebKeySet {
	s.mu.RLock()
	defer s.mu.RUnlock()
	set := jose.JSONWebKeySet{}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: KeyID(&k.PublicKey), Algorithm: "RS256", Use: "sig"})
	}
	return set
}
