package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/store"
)

// userKeysBucket holds self-service API keys: "k/<id>" is a key's record,
// "o/<tenant>/<owner>/<id>" indexes keys by owner.
const userKeysBucket = "apikeys"

// KeyPrefix starts every self-service API key. The key's id follows, then
// its secret: qgov_<id>_<secret>. The prefix lets secret scanners find
// leaked keys.
const KeyPrefix = "qgov_"

// ErrKeyNotFound is returned for an unknown or revoked key.
var ErrKeyNotFound = errors.New("the API key does not exist or has been revoked")

// KeyRecord is a self-service API key. Its secret is not kept: only a
// keyed hash of it.
type KeyRecord struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Tenant string `json:"tenant"`
	Owner  string `json:"owner"`
	// Projects limits the key to these of the owner's projects; empty
	// means all of them.
	Projects []string `json:"projects,omitempty"`
	// Scopes limits the key to these actions; empty means all.
	Scopes []runtimeapi.Action `json:"scopes,omitempty"`
	// AllowedIPs limits where the key may be used from (CIDR ranges).
	AllowedIPs []string `json:"allowed_ips,omitempty"`
	// RateLimit is the key's requests per minute; 0 is unlimited.
	RateLimit int       `json:"rate_limit,omitempty"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires,omitzero"`
	Rotated   time.Time `json:"rotated,omitzero"`
	// LastUsed is filled when keys are listed.
	LastUsed time.Time `json:"last_used,omitzero"`

	Hash     string    `json:"hash,omitempty"`
	OldHash  string    `json:"old_hash,omitempty"`
	OldUntil time.Time `json:"old_until,omitzero"`
}

// Public returns the record without its hashes, for listing.
func (k KeyRecord) Public() KeyRecord {
	k.Hash, k.OldHash, k.OldUntil = "", "", time.Time{}
	return k
}

// UserKeys keeps self-service API keys, cached briefly on each replica so
// a revocation reaches every replica within seconds.
type UserKeys struct {
	st     store.Store
	pepper []byte
	cache  cache[KeyRecord]
	used   cache[time.Time] // last recorded use, per key
}

// NewUserKeys returns the keys kept in st, hashed with pepper.
func NewUserKeys(st store.Store, pepper []byte) *UserKeys {
	return &UserKeys{st: st, pepper: pepper}
}

func (u *UserKeys) hash(secret string) string {
	m := hmac.New(sha256.New, u.pepper)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil))
}

// newSecret returns a fresh secret for a key id.
func newSecret(id string) string { return KeyPrefix + id + "_" + rand.Text() }

// keyIDOf returns the id embedded in a self-service secret.
func keyIDOf(secret string) (string, bool) {
	rest, ok := strings.CutPrefix(secret, KeyPrefix)
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, "_")
	return id, ok && id != ""
}

func ownerIndex(tenant, owner string) string { return "o/" + tenant + "/" + owner + "/" }

// Create stores a new key and returns its secret, which is shown once.
func (u *UserKeys) Create(ctx context.Context, k KeyRecord, now time.Time) (KeyRecord, string, error) {
	k.ID = strings.ToLower(rand.Text()[:16])
	secret := newSecret(k.ID)
	k.Hash, k.Created = u.hash(secret), now
	if err := u.write(ctx, k, now); err != nil {
		return KeyRecord{}, "", err
	}
	if err := u.st.Put(ctx, userKeysBucket, ownerIndex(k.Tenant, k.Owner)+k.ID, nil, u.ttl(k, now)); err != nil {
		return KeyRecord{}, "", unavailable(fmt.Errorf("indexing API key %s: %w", k.ID, err))
	}
	return k, secret, nil
}

// ttl keeps an expiring key's records a day past its expiry, for listing.
func (u *UserKeys) ttl(k KeyRecord, now time.Time) time.Duration {
	if k.Expires.IsZero() {
		return 0
	}
	return k.Expires.Sub(now) + 24*time.Hour
}

func (u *UserKeys) write(ctx context.Context, k KeyRecord, now time.Time) error {
	raw, err := json.Marshal(k)
	if err != nil {
		return err
	}
	if err := u.st.Put(ctx, userKeysBucket, "k/"+k.ID, raw, u.ttl(k, now)); err != nil {
		return unavailable(fmt.Errorf("writing API key %s: %w", k.ID, err))
	}
	u.cache.put(k.ID, k, now.Add(recordTTL))
	return nil
}

// Get returns a key's record, or ErrKeyNotFound.
func (u *UserKeys) Get(ctx context.Context, id string, now time.Time) (KeyRecord, error) {
	if k, ok := u.cache.get(id, now); ok {
		if k.ID == "" {
			return k, ErrKeyNotFound
		}
		return k, nil
	}
	raw, err := u.st.Get(ctx, userKeysBucket, "k/"+id)
	var k KeyRecord
	switch {
	case errors.Is(err, store.ErrNotFound):
		u.cache.put(id, k, now.Add(recordTTL))
		return k, ErrKeyNotFound
	case err != nil:
		return k, unavailable(fmt.Errorf("reading API key %s: %w", id, err))
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return k, unavailable(fmt.Errorf("decoding API key %s: %w", id, err))
	}
	u.cache.put(id, k, now.Add(recordTTL))
	return k, nil
}

// Lookup finds the key a secret belongs to: its current secret, or the
// one it replaced while the rotation's grace period lasts. Expired keys
// are refused.
func (u *UserKeys) Lookup(ctx context.Context, secret string, now time.Time) (KeyRecord, error) {
	id, ok := keyIDOf(secret)
	if !ok {
		return KeyRecord{}, ErrKeyNotFound
	}
	k, err := u.Get(ctx, id, now)
	if err != nil {
		return k, err
	}
	h := u.hash(secret)
	current := hmac.Equal([]byte(h), []byte(k.Hash))
	old := k.OldHash != "" && hmac.Equal([]byte(h), []byte(k.OldHash)) && now.Before(k.OldUntil)
	if !current && !old {
		if k.OldHash != "" && hmac.Equal([]byte(h), []byte(k.OldHash)) {
			return k, errors.New("the API key was rotated and its old secret's grace period is over")
		}
		return k, ErrKeyNotFound
	}
	return k, k.usable(now)
}

// usable refuses expired keys.
func (k KeyRecord) usable(now time.Time) error {
	if !k.Expires.IsZero() && now.After(k.Expires) {
		return fmt.Errorf("the API key %s expired at %s", k.ID, k.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// List returns an owner's keys, without their hashes.
func (u *UserKeys) List(ctx context.Context, tenant, owner string, now time.Time) ([]KeyRecord, error) {
	out := []KeyRecord{}
	after := ""
	for {
		page, err := u.st.List(ctx, userKeysBucket, ownerIndex(tenant, owner), after, 500)
		if err != nil {
			return nil, unavailable(fmt.Errorf("listing API keys of %s: %w", owner, err))
		}
		for _, e := range page {
			id := e.Key[strings.LastIndexByte(e.Key, '/')+1:]
			if k, err := u.Get(ctx, id, now); err == nil {
				k.LastUsed = u.lastUsed(ctx, id)
				out = append(out, k.Public())
			}
		}
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].Key
	}
}

// Rotate gives a key a new secret; the old one keeps working for grace.
func (u *UserKeys) Rotate(ctx context.Context, id string, grace time.Duration, now time.Time) (KeyRecord, string, error) {
	k, err := u.fresh(ctx, id, now)
	if err != nil {
		return k, "", err
	}
	secret := newSecret(k.ID)
	k.OldHash, k.OldUntil, k.Hash, k.Rotated = k.Hash, now.Add(grace), u.hash(secret), now
	if err := u.write(ctx, k, now); err != nil {
		return k, "", err
	}
	return k, secret, nil
}

// Revoke deletes a key.
func (u *UserKeys) Revoke(ctx context.Context, k KeyRecord) error {
	if err := u.st.Delete(ctx, userKeysBucket, "k/"+k.ID); err != nil {
		return unavailable(fmt.Errorf("revoking API key %s: %w", k.ID, err))
	}
	u.cache.drop(k.ID)
	_ = u.st.Delete(ctx, userKeysBucket, "u/"+k.ID)
	return u.st.Delete(ctx, userKeysBucket, ownerIndex(k.Tenant, k.Owner)+k.ID)
}

// Touch records a key's use, at most once a minute per replica. Last use
// is kept in its own record ("u/<id>"), so it never races a rotation.
func (u *UserKeys) Touch(ctx context.Context, id string, now time.Time) error {
	if _, recent := u.used.get(id, now); recent {
		return nil
	}
	u.used.put(id, now, now.Add(time.Minute))
	if err := u.st.Put(ctx, userKeysBucket, "u/"+id, []byte(now.UTC().Format(time.RFC3339)), 0); err != nil {
		return unavailable(fmt.Errorf("recording use of API key %s: %w", id, err))
	}
	return nil
}

// lastUsed reads when a key was last used.
func (u *UserKeys) lastUsed(ctx context.Context, id string) time.Time {
	raw, err := u.st.Get(ctx, userKeysBucket, "u/"+id)
	if err != nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339, string(raw))
	return t
}

// fresh reads a key past the cache, before changing it.
func (u *UserKeys) fresh(ctx context.Context, id string, now time.Time) (KeyRecord, error) {
	u.cache.drop(id)
	return u.Get(ctx, id, now)
}
