// Package console is qgov's web console: server-rendered pages at
// /console for approvers, billing, key holders and auditors. It is a
// client of the gateway's own API: every page reads, and every form
// changes, through the same endpoints and checks as the API and CLI
// (/auth/ and /governance/v1/), called in process with the browser's
// sign-in session, so the console can show or do nothing the caller's
// roles do not allow, and every action is audited once, by the API.
//
// Pages are plain HTML with one embedded stylesheet and inline SVG
// charts: no scripts, no external assets. Every form that changes
// state carries a token derived from the session and is refused from
// another origin.
package console

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Prefix is where the console is served.
const Prefix = "/console"

//go:embed templates/*.html static/*
var files embed.FS

// Console serves the web console.
type Console struct {
	// API serves the gateway's endpoints the console calls: /auth/ and
	// /governance/v1/, and the Runtime API for a job's status.
	API    http.Handler
	Logger *slog.Logger
	Now    func() time.Time

	pages map[string]*template.Template
}

// New returns a console calling api.
func New(api http.Handler, logger *slog.Logger) *Console {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Console{API: api, Logger: logger, Now: time.Now, pages: parsePages()}
}

// Handles reports whether a path is the console's.
func Handles(path string) bool { return path == Prefix || strings.HasPrefix(path, Prefix+"/") }

// route is one console endpoint.
type route struct {
	method string
	// pattern is the path below /console; "{id}" matches one segment.
	pattern string
	serve   func(c *Console, v *visit, id string)
}

// routes are the console's endpoints.
var routes = []route{
	{http.MethodGet, "/", (*Console).overview},
	{http.MethodGet, "/approvals", (*Console).approvals},
	{http.MethodGet, "/approvals/{id}", (*Console).approval},
	{http.MethodPost, "/approvals/{id}", (*Console).decide},
	{http.MethodGet, "/spend", (*Console).spend},
	{http.MethodGet, "/keys", (*Console).keys},
	{http.MethodPost, "/keys", (*Console).createKey},
	{http.MethodPost, "/keys/{id}/rotate", (*Console).rotateKey},
	{http.MethodPost, "/keys/{id}/revoke", (*Console).revokeKey},
	{http.MethodPost, "/sessions/{id}/end", (*Console).endSession},
	{http.MethodGet, "/audit", (*Console).audit},
	{http.MethodGet, "/access", (*Console).access},
}

// match reports whether path fits pattern, and the {id} segment.
func match(pattern, path string) (string, bool) {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return "", false
	}
	id := ""
	for i := range ps {
		switch {
		case ps[i] == "{id}" && xs[i] != "":
			id = xs[i]
		case ps[i] != xs[i]:
			return "", false
		}
	}
	return id, true
}

// ServeHTTP serves the console's pages, forms and stylesheet.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, Prefix)
	switch {
	case path == "":
		http.Redirect(w, r, Prefix+"/", http.StatusFound)
		return
	case strings.HasPrefix(path, "/static/"):
		c.static(w, r, strings.TrimPrefix(path, "/static/"))
		return
	}
	known := false
	for _, rt := range routes {
		id, ok := match(rt.pattern, path)
		if !ok {
			continue
		}
		known = true
		if rt.method != r.Method {
			continue
		}
		v := c.begin(w, r)
		if v == nil {
			return
		}
		if r.Method == http.MethodPost && !v.checkForm() {
			return
		}
		rt.serve(c, v, id)
		return
	}
	if known {
		w.Header().Set("Allow", http.MethodGet+", "+http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	v := c.begin(w, r)
	if v != nil {
		v.status = http.StatusNotFound
		c.render(v, "notfound", nil)
	}
}

// static serves the embedded stylesheet.
func (c *Console) static(w http.ResponseWriter, r *http.Request, name string) {
	if strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	data, err := files.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if strings.HasSuffix(name, ".css") {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(data)
}
