package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/qgov/qgov/ibm/iam"
)

// identity is the caller an API key stands for.
type identity struct {
	iam.Identity
	hash [32]byte
}

// keyID returns a stable, non-secret identifier of an API key and the
// key's full hash.
func keyID(apiKey string) (string, [32]byte) {
	sum := sha256.Sum256([]byte(apiKey))
	return hex.EncodeToString(sum[:8]), sum
}

// handleToken serves POST /identity/token: the API-key grant answered
// with a signed JWT access token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	apiKey, ok := iam.ReadAPIKeyGrant(w, r)
	if !ok {
		return
	}
	id, ok := s.lookupKey(apiKey)
	if !ok {
		iam.WriteUnknownKey(w)
		return
	}
	s.tokens.WriteToken(w, id.Identity, s.now())
}
