package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/qgov/qgov/identity"
)

// maxForm bounds a form's body.
const maxForm = 64 << 10

// crossOrigin refuses forms sent from another origin.
var crossOrigin = http.NewCrossOriginProtection()

// csrfToken is the form token of the browser's session: a hash of the
// session cookie's secret under the console's own label, so it differs
// from the session's id and cannot be made without the cookie, and every
// replica derives the same one.
func csrfToken(r *http.Request) string {
	c, err := r.Cookie(identity.SessionCookie)
	if err != nil || c.Value == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("qgov console form\x00" + c.Value))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkForm refuses a form from another origin or without the session's
// token, and parses it.
func (v *visit) checkForm() bool {
	refuse := func(msg string) bool {
		v.status = http.StatusForbidden
		v.c.render(v, "error", &apiError{Status: http.StatusForbidden, Code: "csrf", Message: msg})
		return false
	}
	if err := crossOrigin.Check(v.r); err != nil {
		return refuse("the form was sent from another site; nothing was changed")
	}
	v.r.Body = http.MaxBytesReader(v.w, v.r.Body, maxForm)
	if err := v.r.ParseForm(); err != nil {
		return refuse("the form could not be read; nothing was changed")
	}
	sent := v.r.PostForm.Get("csrf")
	if v.csrf == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(v.csrf)) != 1 {
		return refuse("the form has expired or belongs to another sign-in; reload the page and try again (nothing was changed)")
	}
	return true
}

// flashCookie carries the outcome of a form to the page it leads to.
const flashCookie = "qgov_console_flash"

type flash struct {
	Message string `json:"m"`
	Error   bool   `json:"e,omitempty"`
}

// setFlash remembers a message for the next page.
func (v *visit) setFlash(message string, isError bool) {
	raw, _ := json.Marshal(flash{message, isError})
	http.SetCookie(v.w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(raw), Path: Prefix,
		MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: v.r.TLS != nil})
}

// takeFlash reads the message a form left, and clears it.
func (v *visit) takeFlash() {
	c, err := v.r.Cookie(flashCookie)
	if err != nil {
		return
	}
	http.SetCookie(v.w, &http.Cookie{Name: flashCookie, Path: Prefix, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: v.r.TLS != nil})
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	var f flash
	if err == nil && json.Unmarshal(raw, &f) == nil {
		v.flash, v.flashError = f.Message, f.Error
	}
}
