package identity

import (
	"fmt"
	"strings"
)

// Claims are a verified token's claims.
type Claims map[string]any

// Lookup returns the claim at a dotted path ("account.bss").
func (c Claims) Lookup(path string) (any, bool) {
	var cur any = map[string]any(c)
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// String returns a claim as a string: strings as they are, numbers and
// booleans formatted; "" for absent claims, lists and objects.
func (c Claims) String(path string) string {
	v, ok := c.Lookup(path)
	if !ok {
		return ""
	}
	return scalar(v)
}

// Strings returns a claim's values: a list's scalar elements, or the
// claim itself when it is a scalar.
func (c Claims) Strings(path string) []string {
	v, ok := c.Lookup(path)
	if !ok {
		return nil
	}
	list, isList := v.([]any)
	if !isList {
		if s := scalar(v); s != "" {
			return []string{s}
		}
		return nil
	}
	var out []string
	for _, e := range list {
		if s := scalar(e); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64, bool:
		return fmt.Sprint(v)
	}
	return ""
}

// ClaimMap names the claims that describe a user.
type ClaimMap struct {
	// User is the claim holding the user id. Default "sub".
	User string `json:"user,omitempty"`
	// Name is the display name claim. Default "name".
	Name string `json:"name,omitempty"`
	// Email is the email claim. Default "email".
	Email string `json:"email,omitempty"`
	// Groups is the claim listing the user's groups. Default "groups".
	Groups string `json:"groups,omitempty"`
}

func (m *ClaimMap) fill(user, name, email string) {
	for _, f := range []struct {
		v   *string
		def string
	}{{&m.User, user}, {&m.Name, name}, {&m.Email, email}, {&m.Groups, "groups"}} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
}
