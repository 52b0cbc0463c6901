package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/qgov/qgov/console"
	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/org"
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
	gw *gateway.Gateway
	// console serves /console, calling gw for everything it shows.
	console *console.Console
	ctx     caddy.Context
	// proxies forward to the instances' upstreams, by scheme and
	// host:port; an upstream first named by an instance created through
	// the governance API gets its proxy on first use.
	proxies *proxies
}

// proxies are the reverse proxies of the upstreams, by scheme and
// host:port.
type proxies struct {
	by sync.Map   // scheme://host:port → *reverseproxy.Handler
	mu sync.Mutex // held while one is provisioned
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.qgov", New: func() caddy.Module { return new(Handler) }}
}

// Provision gets the qgov app and builds a reverse proxy per instance.
func (h *Handler) Provision(ctx caddy.Context) error {
	appIface, err := ctx.App("qgov")
	if err != nil {
		return fmt.Errorf("loading the qgov app: %w", err)
	}
	app := appIface.(*App)
	h.ctx, h.proxies = ctx, new(proxies)
	for _, in := range app.cfg.Directory.Load().Instances() {
		if _, err := h.proxy(in); err != nil {
			return fmt.Errorf("instance %q: %w", in.Alias, err)
		}
	}
	cfg := app.cfg
	cfg.Upstream = h
	cfg.ClientIP = clientIP
	h.gw = gateway.New(cfg)
	h.console = console.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(w, r) }), app.logger)
	if app.gateway == nil {
		app.gateway = h.gw
	}
	return nil
}

// proxy returns the reverse proxy of an instance's upstream,
// provisioning Caddy's reverse proxy for it when none exists.
func (h *Handler) proxy(in *org.Instance) (*reverseproxy.Handler, error) {
	scheme, hostport := in.UpstreamAddr()
	key := scheme + "://" + hostport
	if rp, ok := h.proxies.by.Load(key); ok {
		return rp.(*reverseproxy.Handler), nil
	}
	h.proxies.mu.Lock()
	defer h.proxies.mu.Unlock()
	if rp, ok := h.proxies.by.Load(key); ok {
		return rp.(*reverseproxy.Handler), nil
	}
	transport := map[string]any{"protocol": "http"}
	if scheme == "https" {
		transport["tls"] = map[string]any{}
	}
	raw, err := json.Marshal(map[string]any{
		"upstreams": []map[string]string{{"dial": hostport}},
		"transport": transport,
	})
	if err != nil {
		return nil, err
	}
	mod, err := h.ctx.LoadModuleByID("http.handlers.reverse_proxy", raw)
	if err != nil {
		return nil, fmt.Errorf("loading the reverse proxy: %w", err)
	}
	rp := mod.(*reverseproxy.Handler)
	h.proxies.by.Store(key, rp)
	return rp, nil
}

// backgroundServer stands for the HTTP server of requests no client
// made: it has no logs and trusts no proxy.
var backgroundServer = &caddyhttp.Server{}

// Forward implements gateway.Upstream with Caddy's reverse proxy. A
// request the gateway makes on its own (the reconciler's) gets the
// context Caddy gives the requests it serves.
func (h *Handler) Forward(w http.ResponseWriter, r *http.Request, in *org.Instance) error {
	if r.Context().Value(caddy.ReplacerCtxKey) == nil {
		r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, backgroundServer)
	}
	rp, err := h.proxy(in)
	if err != nil {
		return fmt.Errorf("instance %q: %w", in.Alias, err)
	}
	return rp.ServeHTTP(w, r, noNext)
}

// clientIP is the client address Caddy established, honouring the
// server's trusted_proxies and nothing else.
func clientIP(r *http.Request) netip.Addr {
	s, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// noNext ends the chain of the per-instance reverse proxies.
var noNext = caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	switch {
	case console.Handles(r.URL.Path):
		h.console.ServeHTTP(w, r)
		return nil
	case !h.gw.Handles(r):
		return next.ServeHTTP(w, r)
	}
	d := h.serve(w, r)
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

// serve runs a request through the gateway and counts its decision.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) gateway.Decision {
	d := h.gw.Serve(w, r)
	countDecision(&d)
	return d
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ gateway.Upstream            = (*Handler)(nil)
)
