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

	"github.com/qgov/qgov/internal/route"
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

// endpoint serves one console endpoint, with the {id} of its pattern.
type endpoint func(c *Console, v *visit, id string)

// routes are the console's endpoints.
var routes = route.New([]route.Route[endpoint]{
	{Pattern: "GET " + Prefix + "/{$}", Value: (*Console).overview},
	{Pattern: "GET " + Prefix + "/approvals", Value: (*Console).approvals},
	{Pattern: "GET " + Prefix + "/approvals/{id}", Value: (*Console).approval},
	{Pattern: "POST " + Prefix + "/approvals/{id}", Value: (*Console).decide},
	{Pattern: "GET " + Prefix + "/spend", Value: (*Console).spend},
	{Pattern: "GET " + Prefix + "/keys", Value: (*Console).keys},
	{Pattern: "POST " + Prefix + "/keys", Value: (*Console).createKey},
	{Pattern: "POST " + Prefix + "/keys/{id}/rotate", Value: (*Console).rotateKey},
	{Pattern: "POST " + Prefix + "/keys/{id}/revoke", Value: (*Console).revokeKey},
	{Pattern: "POST " + Prefix + "/sessions/{id}/end", Value: (*Console).endSession},
	{Pattern: "GET " + Prefix + "/audit", Value: (*Console).audit},
	{Pattern: "GET " + Prefix + "/access", Value: (*Console).access},
})

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
	serve, found := routes.Match(r)
	switch found {
	case route.Found:
		v := c.begin(w, r)
		if v == nil {
			return
		}
		if r.Method == http.MethodPost && !v.checkForm() {
			return
		}
		serve(c, v, r.PathValue("id"))
		return
	case route.NotAllowed:
		w.Header().Set("Allow", routes.Allow(r))
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
