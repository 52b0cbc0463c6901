package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/qgov/qgov/identity"
)

// newKey is a key with its secret, shown once.
type newKey struct {
	identity.KeyRecord
	Key string `json:"key"`
}

// keys shows the caller's keys and sessions.
func (c *Console) keys(v *visit, _ string) {
	var keys struct {
		Keys []identity.KeyRecord `json:"keys"`
	}
	var sessions struct {
		Sessions []identity.Session `json:"sessions"`
		Current  string             `json:"current"`
	}
	data := map[string]any{}
	if err := v.get("/auth/keys", &keys); err != nil {
		data["KeysError"] = err
	}
	if err := v.get("/auth/sessions", &sessions); err != nil {
		data["SessionsError"] = err
	}
	data["Keys"], data["Sessions"], data["Current"] = keys.Keys, sessions.Sessions, sessions.Current
	c.render(v, "keys", data)
}

// createKey creates a key and shows its secret once.
func (c *Console) createKey(v *visit, _ string) {
	f := v.r.PostForm
	body := map[string]any{"name": strings.TrimSpace(f.Get("name")), "projects": f["projects"]}
	if d := f.Get("expires"); d != "" {
		body["expires_at"] = d + "T23:59:59Z" // the end of the day the date field names
	}
	var k newKey
	if err := v.send(http.MethodPost, "/auth/keys", body, &k); err != nil {
		v.done(Prefix+"/keys", "", "Creating the key", err)
		return
	}
	c.render(v, "secret", map[string]any{"Key": k, "Verb": "created"})
}

// rotateKey gives a key a new secret and shows it once.
func (c *Console) rotateKey(v *visit, id string) {
	var k newKey
	if err := v.send(http.MethodPost, "/auth/keys/"+url.PathEscape(id)+"/rotate", map[string]any{}, &k); err != nil {
		v.done(Prefix+"/keys", "", "Rotating key "+id, err)
		return
	}
	c.render(v, "secret", map[string]any{"Key": k, "Verb": "rotated"})
}

// revokeKey revokes a key.
func (c *Console) revokeKey(v *visit, id string) {
	err := v.send(http.MethodDelete, "/auth/keys/"+url.PathEscape(id), nil, nil)
	v.done(Prefix+"/keys", "Revoked key "+id, "Revoking key "+id, err)
}

// endSession ends one of the caller's sign-in sessions.
func (c *Console) endSession(v *visit, id string) {
	err := v.send(http.MethodDelete, "/auth/sessions/"+url.PathEscape(id), nil, nil)
	v.done(Prefix+"/keys", "Ended session "+id, "Ending session "+id, err)
}
