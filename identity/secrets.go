package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/qgov/qgov/ibm/iam"
	"github.com/qgov/qgov/store"
)

// secretsBucket holds key material shared by every replica: the token
// signing keys and the pepper of API-key hashes.
const secretsBucket = "keys"

// loadOrCreate returns the value of a shared secret, creating it with
// make when absent. Of replicas starting together one value wins and all
// read it back.
func loadOrCreate(ctx context.Context, st store.Store, name string, ttl time.Duration, make func() ([]byte, error)) ([]byte, error) {
	v, err := st.Get(ctx, secretsBucket, name)
	if errors.Is(err, store.ErrNotFound) {
		fresh, merr := make()
		if merr != nil {
			return nil, merr
		}
		if _, err = st.Create(ctx, secretsBucket, name, fresh, ttl); err == nil {
			v, err = st.Get(ctx, secretsBucket, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, err)
	}
	return v, nil
}

// LoadPepper returns the key of API-key hashes, creating it on first use.
func LoadPepper(ctx context.Context, st store.Store) ([]byte, error) {
	return loadOrCreate(ctx, st, "api-key-pepper", 0, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
}

// SigningKeys rotates the token signing keys. Time is cut into periods
// of Rotation; each period has its own key in the store, so every
// replica signs with the same key at the same time. The signer holds the
// current period's key, which signs, and the previous and next ones,
// which verify: tokens signed before a rotation stay valid, and a replica
// whose clock runs a little ahead is understood by the others.
type SigningKeys struct {
	Store    store.Store
	Rotation time.Duration
	Signer   *iam.Signer

	mu     sync.Mutex
	period int64
}

// NewSigningKeys loads (creating when needed) the keys of now's period
// from st and returns them with a signer of tokens with the given issuer
// and lifetime.
func NewSigningKeys(ctx context.Context, st store.Store, rotation time.Duration, issuer string, ttl time.Duration, now time.Time) (*SigningKeys, error) {
	k := &SigningKeys{Store: st, Rotation: rotation}
	keys, p, err := k.keys(ctx, now)
	if err != nil {
		return nil, err
	}
	if k.Signer, err = iam.NewSigner(keys, issuer, ttl); err != nil {
		return nil, err
	}
	k.period = p
	return k, nil
}

// keys loads (creating when needed) the keys around now's period, current
// first.
func (k *SigningKeys) keys(ctx context.Context, now time.Time) ([]*rsa.PrivateKey, int64, error) {
	p := now.Unix() / int64(k.Rotation.Seconds())
	var keys []*rsa.PrivateKey
	for _, q := range []int64{p, p - 1, p + 1} {
		pem, err := loadOrCreate(ctx, k.Store, "token-signing-key/"+strconv.FormatInt(q, 10), 4*k.Rotation, func() ([]byte, error) {
			key, err := iam.GenerateKey()
			if err != nil {
				return nil, err
			}
			return iam.EncodeKey(key), nil
		})
		if err != nil {
			return nil, 0, err
		}
		key, err := iam.DecodeKey(pem)
		if err != nil {
			return nil, 0, err
		}
		keys = append(keys, key)
	}
	return keys, p, nil
}

// Refresh moves the signer to now's period when it has changed.
func (k *SigningKeys) Refresh(ctx context.Context, now time.Time) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Unix()/int64(k.Rotation.Seconds()) == k.period {
		return nil
	}
	keys, p, err := k.keys(ctx, now)
	if err != nil {
		return err
	}
	if err := k.Signer.SetKeys(keys); err != nil {
		return err
	}
	k.period = p
	return nil
}
