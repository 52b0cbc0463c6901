package caddymodule

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/qgov/qgov/console"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/ibm/runtimeapi"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler governs the Qiskit Runtime API: it serves /identity/token,
// /identity/keys, Global Search and Catalog, the governance API, the web
// console at /console, and forwards /api/v1 (and
// /experimental/api/v1) requests that pass qgov's pipeline to the
// instance's upstream through Caddy's reverse proxy, with the instance's
// real CRN and upstream credentials. Other paths go to the next handler.
//
// It sets these placeholders for logs and later handlers:
//
//	{http.qgov.user}      the caller's user id
//	{http.qgov.key_id}    the API key the caller authenticated with
//	{http.qgov.tenant}    the caller's tenant
//	{http.qgov.project}   the project the request counted against
//	{http.qgov.instance}  the instance alias
//	{http.qgov.action}    the IBM action of the route
//	{http.qgov.decision}  allowed, denied, held or modified
//	{http.qgov.code}      the error code of a denial
//	{http.qgov.reason}    why a request was denied
//	{http.qgov.trace}     the request's trace: its error body's and its audit record's
type Handler struct {
	app *App
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.qgov", New: func() caddy.Module { return new(Handler) }}
}

// Provision gets the qgov app, which serves the handler's requests.
func (h *Handler) Provision(ctx caddy.Context) error {
	app, err := ctx.App("qgov")
	if err != nil {
		return fmt.Errorf("loading the qgov app: %w", err)
	}
	h.app = app.(*App)
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	ui := console.Handles(r.URL.Path)
	switch {
	case !ui && !gateway.Handles(r):
		return next.ServeHTTP(w, r)
	case h.app.running(r.Context()) == nil:
		runtimeapi.WriteDenial(w, starting, runtimeapi.NewTrace())
		return nil
	case ui:
		h.app.console.ServeHTTP(w, r)
		return nil
	}
	d := h.app.serve(w, r)
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("http.qgov.user", d.User)
		repl.Set("http.qgov.key_id", d.KeyID)
		repl.Set("http.qgov.tenant", d.Tenant)
		repl.Set("http.qgov.project", d.Project)
		repl.Set("http.qgov.instance", d.Instance)
		repl.Set("http.qgov.action", string(d.Action))
		repl.Set("http.qgov.decision", d.Outcome)
		repl.Set("http.qgov.code", d.Code)
		repl.Set("http.qgov.reason", d.Reason)
		repl.Set("http.qgov.note", d.Note)
		repl.Set("http.qgov.trace", d.Trace)
	}
	return nil
}

// starting answers a request the app has not started in time to serve.
var starting = denial.New("gateway_starting", "the gateway has not started: it is starting, or its start failed (see its log); try again shortly")

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
