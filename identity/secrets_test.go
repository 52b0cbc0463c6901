package identity

import (
	"crypto/rsa"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/iam"
	"github.com/qgov/qgov/store"
)

func TestSigningKeysRotate(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "qgov.db"))
	require.NoError(t, err)
	defer st.Close()
	day := 24 * time.Hour
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	replica := func() *SigningKeys {
		k, err := NewSigningKeys(t.Context(), st, day, "qgov", time.Hour, t0)
		require.NoError(t, err)
		return k
	}
	a, b := replica(), replica()
	assert.Equal(t, a.Signer.JWKS(), b.Signer.JWKS(), "replicas share the keys")
	assert.Len(t, a.Signer.JWKS().Keys, 3, "previous, current and next")

	late := t0.Add(day - 30*time.Minute)
	tok, _, err := a.Signer.Issue(iam.Identity{IAMID: "u", KeyID: "k"}, late)
	require.NoError(t, err)

	// A rotates first; B, not yet rotated, still verifies A's new tokens.
	next := t0.Add(day)
	require.NoError(t, a.Refresh(t.Context(), next))
	fresh, _, err := a.Signer.Issue(iam.Identity{IAMID: "u", KeyID: "k"}, next)
	require.NoError(t, err)
	_, err = b.Signer.Verify(fresh, next)
	assert.NoError(t, err)
	// Tokens signed before the rotation stay valid until they expire.
	_, err = a.Signer.Verify(tok, next)
	assert.NoError(t, err)
	assert.NotEqual(t, headerKeyIDOf(t, tok), headerKeyIDOf(t, fresh))
	var none []*rsa.PrivateKey
	assert.Error(t, a.Signer.SetKeys(none))
}

func headerKeyIDOf(t *testing.T, tok string) string {
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	return jws.Signatures[0].Header.KeyID
}
