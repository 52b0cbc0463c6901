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

	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/org"
)

// proxies are the reverse proxies of the upstreams, by scheme and
// host:port.
type proxies struct {
	by sync.Map   // scheme://host:port → *reverseproxy.Handler
	mu sync.Mutex // held while one is provisioned
}

// proxy returns the reverse proxy of an instance's upstream,
// provisioning Caddy's reverse proxy for it when none exists.
func (a *App) proxy(in *org.Instance) (*reverseproxy.Handler, error) {
	scheme, hostport := in.UpstreamAddr()
	key := scheme + "://" + hostport
	if rp, ok := a.upstreams.by.Load(key); ok {
		return rp.(*reverseproxy.Handler), nil
	}
	a.upstreams.mu.Lock()
	defer a.upstreams.mu.Unlock()
	if rp, ok := a.upstreams.by.Load(key); ok {
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
	mod, err := a.ctx.LoadModuleByID("http.handlers.reverse_proxy", raw)
	if err != nil {
		return nil, fmt.Errorf("loading the reverse proxy: %w", err)
	}
	rp := mod.(*reverseproxy.Handler)
	a.upstreams.by.Store(key, rp)
	return rp, nil
}

// backgroundServer stands for the HTTP server of requests no client
// made: it has no logs and trusts no proxy.
var backgroundServer = &caddyhttp.Server{}

// Forward implements gateway.Upstream with Caddy's reverse proxy. A
// request the gateway makes on its own (the reconciler's) gets the
// context Caddy gives the requests it serves.
func (a *App) Forward(w http.ResponseWriter, r *http.Request, in *org.Instance) error {
	if r.Context().Value(caddy.ReplacerCtxKey) == nil {
		r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, backgroundServer)
	}
	rp, err := a.proxy(in)
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

// Interface guards.
var _ gateway.Upstream = (*App)(nil)
