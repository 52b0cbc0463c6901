// Package identity establishes who is calling: qgov API keys declared in
// configuration, and the IAM-compatible access tokens qgov issues for
// them.
package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/qgov/qgov/iam"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/runtimeapi"
)

// Principal is an authenticated caller.
type Principal struct {
	// UserID, Name and Email describe the user.
	UserID string
	Name   string
	Email  string
	// Tenant is the tenant the user acts in.
	Tenant string
	// Projects the user belongs to, the first being the default.
	Projects []string
	// KeyID identifies the API key the request was authenticated with.
	KeyID string
}

// APIKey declares a qgov API key and the caller it stands for.
type APIKey struct {
	// ID names the key; it is not secret and appears in logs and tokens.
	ID string `json:"id"`
	// Key is the secret itself, normally a runtime placeholder such as
	// "{env.FATIMA_KEY}". It is hashed when the config loads and never
	// kept. Give Key or SHA256.
	Key string `json:"key,omitempty"`
	// SHA256 is the hex SHA-256 of the secret, for configs that must not
	// hold it (`qgov hash-key` prints it).
	SHA256 string `json:"sha256,omitempty"`
	// User is the user id; Name and Email describe the user.
	User  string `json:"user"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// Tenant the user acts in. Default "default".
	Tenant string `json:"tenant,omitempty"`
	// Projects the user belongs to; the first is the default project.
	Projects []string `json:"projects,omitempty"`
}

// HashKey returns the hex SHA-256 of an API key, as SHA256 holds it.
func HashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// KeyRing holds API keys by hash: the secrets themselves are not kept.
type KeyRing struct {
	byHash map[string]*Principal
	byID   map[string]*Principal
}

// NewKeyRing hashes and indexes keys; it fills the default tenant.
func NewKeyRing(keys []APIKey) (*KeyRing, error) {
	k := &KeyRing{byHash: map[string]*Principal{}, byID: map[string]*Principal{}}
	var errs []error
	for i, key := range keys {
		hash := strings.ToLower(key.SHA256)
		switch {
		case key.ID == "" || key.User == "":
			errs = append(errs, fmt.Errorf("api_keys[%d]: id and user are required", i))
			continue
		case (key.Key == "") == (hash == ""):
			errs = append(errs, fmt.Errorf("api key %q: give exactly one of key and sha256", key.ID))
			continue
		case key.Key != "":
			hash = HashKey(key.Key)
		case len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "":
			errs = append(errs, fmt.Errorf("api key %q: sha256 must be 64 hex digits", key.ID))
			continue
		}
		if k.byID[key.ID] != nil || k.byHash[hash] != nil {
			errs = append(errs, fmt.Errorf("api key %q: id or secret declared twice", key.ID))
			continue
		}
		p := &Principal{UserID: key.User, Name: key.Name, Email: key.Email, Tenant: org.Tenant(key.Tenant), Projects: key.Projects, KeyID: key.ID}
		k.byHash[hash], k.byID[key.ID] = p, p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return k, nil
}

// Lookup returns the principal of a secret key.
func (k *KeyRing) Lookup(secret string) (*Principal, bool) {
	p, ok := k.byHash[HashKey(secret)]
	return p, ok
}

// Authenticator authenticates requests with a key ring and the signer of
// qgov's access tokens.
type Authenticator struct {
	Keys   *KeyRing
	Tokens *iam.Signer
	Now    func() time.Time
}

// Authenticate reads the Authorization header: "Bearer <token>" with a
// token qgov issued, or "apikey <key>" (the Qiskit client's fallback).
// The principal is looked up in the current key ring, so a key removed
// from the configuration stops working at once, tokens included.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, *runtimeapi.Error) {
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case h == "":
		return nil, unauthorized("missing Authorization header: send \"Bearer <access token>\" from POST /identity/token")
	case strings.EqualFold(scheme, "Bearer") && cred != "":
		id, err := a.Tokens.Verify(cred, a.Now())
		if err != nil {
			return nil, unauthorized(err.Error())
		}
		p, ok := a.Keys.byID[id.KeyID]
		if !ok {
			return nil, unauthorized("the API key this token was issued for has been removed")
		}
		return p, nil
	case strings.EqualFold(scheme, "apikey") && cred != "":
		p, ok := a.Keys.Lookup(cred)
		if !ok {
			return nil, unauthorized("the API key is not valid")
		}
		return p, nil
	}
	return nil, unauthorized("the Authorization header must be \"Bearer <token>\" or \"apikey <key>\"")
}

// IssueToken answers POST /identity/token: the API-key grant, with a qgov
// access token for the key's principal.
func (a *Authenticator) IssueToken(w http.ResponseWriter, r *http.Request) {
	secret, ok := iam.ReadAPIKeyGrant(w, r)
	if !ok {
		return
	}
	p, ok := a.Keys.Lookup(secret)
	if !ok {
		iam.WriteUnknownKey(w)
		return
	}
	a.Tokens.WriteToken(w, iam.Identity{IAMID: p.UserID, KeyID: p.KeyID, Account: p.Tenant, Name: p.Name, Email: p.Email}, a.Now())
}

func unauthorized(msg string) *runtimeapi.Error {
	return runtimeapi.Errorf(http.StatusUnauthorized, "unauthorized", msg)
}
