package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/org"
)

// Who is the signed-in caller, as GET /auth/whoami answers.
type Who struct {
	User     string   `json:"user"`
	Name     string   `json:"name"`
	Email    string   `json:"email"`
	Tenant   string   `json:"tenant"`
	Projects []string `json:"projects"`
	// Permissions maps each permission the caller holds to its widest
	// scope ("own", "project", "tenant", or "" for unscoped ones).
	Permissions map[string]string `json:"permissions"`
	// Roles are the caller's roles, project by project, with where
	// each comes from and until when.
	Roles []org.Grant `json:"roles"`
}

// May reports whether the caller holds a permission at any scope.
func (w *Who) May(permission string) bool {
	_, ok := w.Permissions[permission]
	return ok
}

// MayTenant reports whether the caller holds a permission across the
// tenant.
func (w *Who) MayTenant(permission string) bool {
	s, ok := w.Permissions[permission]
	return ok && (s == "tenant" || s == "")
}

// visit is one request to the console by a signed-in caller.
type visit struct {
	c      *Console
	w      http.ResponseWriter
	r      *http.Request
	who    *Who
	csrf   string
	status int
	// flash is the message of the change just made, or of its failure.
	flash      string
	flashError bool
}

// apiError is an API answer other than success.
type apiError struct {
	Status  int
	Code    string
	Message string
}

// recorder keeps an API answer in memory.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// forwarded are the browser's headers an API call carries: the session
// cookie, and what the API's cross-origin check reads.
var forwarded = []string{"Cookie", "User-Agent", "Sec-Fetch-Site", "Origin", "Referer"}

// call sends one API request as the browser's caller, with the extra
// headers, and decodes a successful JSON answer into out (when not nil).
func (c *Console) call(r *http.Request, method, target string, extra http.Header, body, out any) *apiError {
	var rd io.Reader = http.NoBody // as a server's request has
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return &apiError{Status: http.StatusBadRequest, Code: "invalid_form", Message: err.Error()}
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, target, rd)
	if err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_form", Message: err.Error()}
	}
	req.Host, req.RemoteAddr, req.TLS = r.Host, r.RemoteAddr, r.TLS
	for _, h := range forwarded {
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	maps.Copy(req.Header, extra)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}}
	c.API.ServeHTTP(rec, req)
	if rec.status >= http.StatusBadRequest {
		e := &apiError{Status: rec.status, Code: "error", Message: http.StatusText(rec.status)}
		var eb runtimeapi.ErrorBody
		if json.Unmarshal(rec.body.Bytes(), &eb) == nil && len(eb.Errors) > 0 {
			e.Code, e.Message = eb.Errors[0].Code, eb.Errors[0].Message
		}
		return e
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			c.Logger.Error("console: decoding an API answer", "target", target, "error", err)
			return &apiError{Status: http.StatusBadGateway, Code: "bad_answer", Message: "the gateway's answer could not be read"}
		}
	}
	return nil
}

// get reads an API resource as the visit's caller.
func (v *visit) get(target string, out any) *apiError {
	return v.c.call(v.r, http.MethodGet, target, nil, nil, out)
}

// send changes an API resource as the visit's caller.
func (v *visit) send(method, target string, body, out any) *apiError {
	return v.c.call(v.r, method, target, nil, body, out)
}

// begin identifies the caller. A browser without a session is shown
// the sign-in page and nil is returned.
func (c *Console) begin(w http.ResponseWriter, r *http.Request) *visit {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	v := &visit{c: c, w: w, r: r, status: http.StatusOK}
	v.takeFlash()
	var who Who
	if err := c.call(r, http.MethodGet, "/auth/whoami", nil, nil, &who); err != nil {
		v.status = err.Status
		if err.Status == http.StatusUnauthorized {
			c.render(v, "signin", map[string]any{"Login": "/auth/login?return_to=" + url.QueryEscape(r.URL.RequestURI()), "Message": err.Message})
			return nil
		}
		c.render(v, "error", err)
		return nil
	}
	v.who = &who
	v.csrf = csrfToken(r)
	return v
}

// done ends a form: it remembers the outcome for the next page (what
// was done, or what was tried and why it failed) and sends the browser
// there (303, so a reload does not repeat the form).
func (v *visit) done(to, did, tried string, err *apiError) {
	message := did
	if err != nil {
		message = fmt.Sprintf("%s failed: %s", tried, err.Message)
	}
	v.setFlash(message, err != nil)
	http.Redirect(v.w, v.r, to, http.StatusSeeOther)
}
