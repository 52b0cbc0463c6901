package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/qgov/qgov/org"
)

// APIKey declares a qgov API key and the caller it stands for.
type APIKey struct {
	// ID names the key; it is not secret and appears in logs and tokens.
	ID string `json:"id"`
	// Key is the secret itself, normally a runtime placeholder such as
	// "{env.FATIMA_KEY}". It is hashed when the config loads and never
	// kept. Give Key or SHA256.
	Key string `json:"key,omitempty"`
	// SHA256 is the hex SHA-256 of the secret, for configs that must not
	// hold it (`qgov gov hash-key` prints it).
	SHA256 string `json:"sha256,omitempty"`
	// User is the user id; Name and Email describe the user.
	User  string `json:"user"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// Tenant the user acts in. Default "default".
	Tenant string `json:"tenant,omitempty"`
	// Projects narrow the key to these of the user's projects; empty
	// lets it act in all of them. What the user may do comes from access
	// groups and role assignments.
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
		case org.ValidUserID(key.User) != nil:
			errs = append(errs, fmt.Errorf("api key %q: %w", key.ID, org.ValidUserID(key.User)))
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
		p := &Principal{UserID: key.User, Name: key.Name, Email: key.Email, Tenant: org.Tenant(key.Tenant), KeyProjects: key.Projects, KeyID: key.ID}
		k.byHash[hash], k.byID[key.ID] = p, p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return k, nil
}

// Keys lists the principals of a tenant's configured keys, by key id.
func (k *KeyRing) Keys(tenant string) []*Principal {
	var out []*Principal
	for _, p := range k.byID {
		if p.Tenant == tenant {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *Principal) int { return strings.Compare(a.KeyID, b.KeyID) })
	return out
}

// Lookup returns the principal of a secret key.
func (k *KeyRing) Lookup(secret string) (*Principal, bool) {
	p, ok := k.byHash[HashKey(secret)]
	return p, ok
}
