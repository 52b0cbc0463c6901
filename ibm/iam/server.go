package iam

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

// maxFormBytes bounds the body of a token request.
const maxFormBytes = 64 << 10

// WriteError writes IBM IAM's error body ({"errorCode","errorMessage"}).
func WriteError(w http.ResponseWriter, status int, code, message string) {
	runtimeapi.WriteJSON(w, status, map[string]any{
		"errorCode": code, "errorMessage": message,
		"context": map[string]string{"requestId": runtimeapi.NewTrace()},
	})
}

// ReadAPIKeyGrant reads the API-key grant of POST /identity/token and
// returns the key. On a malformed request it writes IAM's 400 answer and
// returns ok false.
func ReadAPIKeyGrant(w http.ResponseWriter, r *http.Request) (apiKey string, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		WriteError(w, http.StatusBadRequest, "BXNIM0109E", "the request body must be application/x-www-form-urlencoded")
		return "", false
	}
	if g := r.PostForm.Get("grant_type"); g != APIKeyGrant {
		WriteError(w, http.StatusBadRequest, "BXNIM0109E", fmt.Sprintf("Property 'grant_type' must be %q, got %q", APIKeyGrant, g))
		return "", false
	}
	apiKey = strings.TrimSpace(r.PostForm.Get("apikey"))
	if apiKey == "" {
		WriteError(w, http.StatusBadRequest, "BXNIM0109E", "Property 'apikey' is missing or empty")
		return "", false
	}
	return apiKey, true
}

// WriteUnknownKey answers a grant whose API key is not known, as IAM does.
func WriteUnknownKey(w http.ResponseWriter) {
	WriteError(w, http.StatusBadRequest, "BXNIM0415E", "Provided API key could not be found.")
}

// WriteToken issues a token for id and writes IAM's token answer.
func (s *Signer) WriteToken(w http.ResponseWriter, id Identity, now time.Time) {
	token, exp, err := s.Issue(id, now)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "BXNIM0001E", "token signing failed")
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

// ServeKeys serves GET /identity/keys: the JWKS that verifies issued tokens.
func (s *Signer) ServeKeys(w http.ResponseWriter, _ *http.Request) {
	runtimeapi.WriteJSON(w, http.StatusOK, s.JWKS())
}
