package org

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// maxUserID bounds a user id.
const maxUserID = 256

// ValidUserID checks a user id: 1 to 256 characters, none of them a
// separator the gateway keys records or names objects by ('/' and ':')
// nor a space or control character. An id that could reach into another
// user's records ("alice/keys") is refused wherever ids come from.
func ValidUserID(id string) error {
	switch {
	case id == "":
		return errors.New("a user id is required")
	case len(id) > maxUserID:
		return fmt.Errorf("user id of %d bytes is longer than %d", len(id), maxUserID)
	case strings.ContainsAny(id, "/:"):
		return fmt.Errorf("user id %q contains '/' or ':'", id)
	case strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("user id %q contains a space or a control character", id)
	}
	return nil
}
