package caddymodule

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/qgov/qgov/approval"
	"github.com/qgov/qgov/circuit"
	"github.com/qgov/qgov/console"
	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/govapi"
	"github.com/qgov/qgov/governance"
	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/jobs"
	"github.com/qgov/qgov/notify"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/policy"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/store"
)

func init() {
	caddy.RegisterModule(App{})
}

// Defaults of the qgov app.
const (
	defaultTokenTTL    = time.Hour
	defaultIssuer      = "qgov"
	defaultMaxBodySize = 32 << 20
	defaultRotation    = 24 * time.Hour
)

// App is the qgov app: the organisation (instances, projects, API keys),
// the durable store and the upstream credentials, shared by every qgov
// handler. Configure it with the `qgov` global option.
//
// Secrets (upstream API keys, qgov API keys, Redis passwords) should be
// runtime placeholders such as {env.QR_ML_APIKEY}: they are resolved when
// the config loads, so they never appear in the JSON config, its
// autosave, or the logs.
type App struct {
	// Store selects where durable state (job and session ownership, the
	// token signing key) is kept. Default: an embedded bbolt file in
	// Caddy's data directory.
	Store *StoreConfig `json:"store,omitempty"`
	// Config is the organisation: tenants, service instances, projects,
	// custom roles, access groups and role assignments.
	org.Config
	// APIKeys are the qgov API keys callers exchange for access tokens.
	APIKeys []identity.APIKey `json:"api_keys,omitempty"`
	// IdentityProviders are the OpenID Connect providers (such as IBM App
	// ID) and IBM Cloud IAM whose users may sign in or send their tokens.
	IdentityProviders []identity.ProviderConfig `json:"identity_providers,omitempty"`
	// PublicURL is the gateway's external URL, used for the sign-in
	// callback (<public_url>/auth/callback). Default: the scheme and host
	// of each request.
	PublicURL string `json:"public_url,omitempty"`
	// TokenTTL is the lifetime of access tokens issued at
	// /identity/token. Default 1h.
	TokenTTL caddy.Duration `json:"token_ttl,omitempty"`
	// SigningKeyRotation is how often the token signing key changes; it
	// must be at least twice TokenTTL. Default 24h.
	SigningKeyRotation caddy.Duration `json:"signing_key_rotation,omitempty"`
	// Issuer is the "iss" claim of issued tokens. Default "qgov".
	Issuer string `json:"issuer,omitempty"`
	// MaxBodySize bounds request bodies in bytes; larger ones get 413.
	// Default 32 MiB.
	MaxBodySize int64 `json:"max_body_size,omitempty"`
	// BodyMemory bounds the memory of the request bodies the gateway
	// holds at once, each counted with 8 MiB for its reading: with the
	// default, 8 × (MaxBodySize + 8 MiB), eight bodies of the largest size
	// are read at a time and more wait briefly, then get 503 with
	// Retry-After.
	BodyMemory int64 `json:"body_memory,omitempty"`
	// Circuits bound the work of reading one job's circuits.
	Circuits *CircuitLimits `json:"circuits,omitempty"`
	// Audit configures the audit trail. Default: a file trail in Caddy's
	// data directory, each decision fsynced before its request completes.
	Audit *AuditConfig `json:"audit,omitempty"`
	// Quotas configures limits, budgets and the cost model. Default: no
	// limits or budgets.
	Quotas *QuotaConfig `json:"quotas,omitempty"`
	// NotificationChannels are the webhooks and mail servers tenants
	// name in their notification_channels, and policies and workflows in
	// their notify lists.
	NotificationChannels []notify.Channel `json:"notification_channels,omitempty"`
	// Policies are expr rules evaluated on every request they apply to:
	// block, modify, notify or require_approval. See package policy for
	// the environment and how matches combine.
	Policies []policy.Policy `json:"policies,omitempty"`
	// Workflows hold jobs for approval, by their own trigger or a
	// require_approval policy.
	Workflows []policy.Workflow `json:"workflows,omitempty"`
	// Governance tunes the objects created through the governance API.
	Governance *GovernanceConfig `json:"governance,omitempty"`
	// Credentials are the upstream API keys instances name, declared
	// once by reference.
	Credentials []Credential `json:"credentials,omitempty"`
	// OutboundHosts are the origins (https://host[:port], or a bare host
	// for https) that instances created through the governance API may
	// name as their upstream and IAM URL. Default: the origins of the
	// instances declared here.
	OutboundHosts []string `json:"outbound_hosts,omitempty"`

	// repl resolves secrets; keys, providers and ring are the resolved
	// API keys and identity providers every model is checked against, and
	// creds the declared credentials' keys by name.
	repl      *caddy.Replacer
	creds     map[string]string
	keys      []identity.APIKey
	providers []identity.ProviderConfig
	ring      *identity.KeyRing
	// catalog keeps the governance objects; dir, policies, governor and
	// creds hold its model in force.
	catalog  *governance.Manager[*model]
	dir      *org.Current
	policies *policy.Current
	governor *quota.Governor
	held     *held

	// ctx is the config's context: metrics and the upstreams' reverse
	// proxies are provisioned in it.
	ctx caddy.Context
	// identity, circuits, outboundHosts, channels, storeSettings and
	// auditSettings are checked in Provision and used in Start.
	identity      *identity.Providers
	circuits      circuit.Limits
	outboundHosts govapi.Outbound
	storeSettings StoreConfig
	redisTLS      *tls.Config
	redisTLSFiles []byte
	channels      []notify.Channel
	auditSettings auditSettings
	// upstreams are the instances' reverse proxies.
	upstreams *proxies
	// started is closed once Start has ended; gateway is nil if it failed.
	started chan struct{}
	// reconciling is closed once the reconciler has stopped.
	reconciling chan struct{}

	cfg      gateway.Config
	st       store.Store
	storeKey string
	auditKey string
	logger   *slog.Logger
	signing  *identity.SigningKeys
	stop     context.CancelFunc
	notifier *notify.Notifier
	// leader is whether this replica holds the reconciler's lease.
	leader *atomic.Bool
	// gateway serves every qgov handler, reconciles jobs and reports
	// budget alerts; console serves /console over it.
	gateway *gateway.Gateway
	console *console.Console
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "qgov", New: func() caddy.Module { return new(App) }}
}

// Provision checks the configuration without touching anything outside
// the process: it resolves secrets, validates and compiles the declared
// organisation, limits and policies, and the store's and audit trail's
// settings, so that `qgov validate` runs beside a running gateway on the
// same data directory. The store, the trail and everything read from
// them are opened in Start.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx, a.logger = ctx, ctx.Slogger()
	if a.TokenTTL == 0 {
		a.TokenTTL = caddy.Duration(defaultTokenTTL)
	}
	if a.SigningKeyRotation == 0 {
		a.SigningKeyRotation = caddy.Duration(defaultRotation)
	}
	if a.SigningKeyRotation < 2*a.TokenTTL {
		return fmt.Errorf("qgov signing_key_rotation %v must be at least twice token_ttl %v",
			time.Duration(a.SigningKeyRotation), time.Duration(a.TokenTTL))
	}
	if a.Issuer == "" {
		a.Issuer = defaultIssuer
	}
	if a.MaxBodySize == 0 {
		a.MaxBodySize = defaultMaxBodySize
	}
	a.repl, a.held, a.started = caddy.NewReplacer(), &held{}, make(chan struct{})
	keys, provs, err := a.resolveSecrets(a.repl)
	if err != nil {
		return err
	}
	if a.creds, err = a.resolveCredentials(a.repl); err != nil {
		return err
	}
	if a.ring, err = identity.NewKeyRing(keys); err != nil {
		return fmt.Errorf("qgov api_keys: %w", err)
	}
	if a.identity, err = identity.NewProviders(provs, &http.Client{Timeout: 10 * time.Second}); err != nil {
		return fmt.Errorf("qgov identity_providers: %w", err)
	}
	a.keys, a.providers = keys, a.identity.Configs()
	if a.circuits, err = a.Circuits.limits(); err != nil {
		return err
	}
	if a.outboundHosts, err = a.outbound(); err != nil {
		return err
	}
	if a.channels, err = a.resolveChannels(a.repl); err != nil {
		return err
	}
	if a.storeSettings, err = a.storeConfig(a.repl); err != nil {
		return err
	}
	if a.auditSettings, err = a.auditConfig(); err != nil {
		return err
	}
	m, err := a.build(a.declared())
	if err != nil {
		return fmt.Errorf("qgov: %w", err)
	}
	a.upstreams = new(proxies)
	for _, in := range m.dir.Instances() {
		if _, err := a.proxy(in); err != nil {
			return fmt.Errorf("instance %q: %w", in.Alias, err)
		}
	}
	return nil
}

// resolveSecrets returns copies of the API keys and identity providers
// with their placeholders replaced; an unset or empty placeholder is an
// error.
func (a *App) resolveSecrets(repl *caddy.Replacer) ([]identity.APIKey, []identity.ProviderConfig, error) {
	keys := append([]identity.APIKey(nil), a.APIKeys...)
	provs := append([]identity.ProviderConfig(nil), a.IdentityProviders...)
	var errs []error
	for i := range keys {
		errs = append(errs, resolve(repl, fmt.Sprintf("api key %q key", keys[i].ID), &keys[i].Key))
	}
	for i := range provs {
		errs = append(errs, resolve(repl, fmt.Sprintf("identity provider %q client_secret", provs[i].Name), &provs[i].ClientSecret))
	}
	return keys, provs, errors.Join(errs...)
}

// resolve replaces a secret's placeholders; an unset or empty one is an
// error.
func resolve(repl *caddy.Replacer, what string, s *string) error {
	if *s == "" {
		return nil
	}
	v, err := repl.ReplaceOrErr(*s, true, true)
	if err != nil || v == "" {
		return fmt.Errorf("%s: the value or placeholder is unset or empty", what)
	}
	*s = v
	return nil
}

// authenticator builds the identity layer over the store: rotating
// token signing keys, self-service keys, sessions and user records.
func (a *App) authenticator(ctx context.Context, st store.Store, dir *org.Current, ring *identity.KeyRing, providers *identity.Providers) (*identity.Authenticator, error) {
	var err error
	a.signing, err = identity.NewSigningKeys(ctx, st, time.Duration(a.SigningKeyRotation), a.Issuer, time.Duration(a.TokenTTL), time.Now())
	if err != nil {
		return nil, fmt.Errorf("qgov token signing keys: %w", err)
	}
	pepper, err := identity.LoadPepper(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("qgov API-key pepper: %w", err)
	}
	return &identity.Authenticator{
		Keys: ring, UserKeys: identity.NewUserKeys(st, pepper), Tokens: a.signing.Signer, Providers: providers,
		Sessions: identity.NewSessions(st), Users: identity.NewUsers(st), Directory: dir, PublicURL: a.PublicURL, Now: time.Now,
		Logger: a.logger,
	}, nil
}

// Start opens the store and the audit trail, loads the governance
// objects in force, builds the gateway every qgov handler serves with,
// records what the configuration changed, then begins rotating the token
// signing keys and reconciling admitted jobs.
func (a *App) Start() error {
	ctx, stop := context.WithCancel(context.Background())
	a.stop = stop
	if err := a.begin(ctx); err != nil {
		// Caddy stops only the apps that started: this one stops itself,
		// and requests waiting for it are answered at once
		_ = a.Stop()
		a.gateway = nil
		close(a.started)
		return err
	}
	close(a.started)
	a.startReconciler(ctx)
	go a.catalog.Run(ctx, a.refreshInterval())
	go func() {
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if err := a.signing.Refresh(ctx, now); err != nil {
					a.logger.Error("rotating the token signing key", "error", err)
				}
				if n%int(persistenceCheck/time.Minute) == 0 {
					if err := a.checkPersistence(ctx); err != nil { // only a load is refused
						a.logger.Error("the Redis store may lose governance state", "error", err)
					}
				}
			}
		}
	}()
	return nil
}

// begin opens what the app serves with and records what the
// configuration changed.
func (a *App) begin(ctx context.Context) error {
	if err := a.open(ctx); err != nil {
		return err
	}
	if err := governance.RecordConfigChanges(ctx, a.st, a.cfg.Audit, a.Config); err != nil {
		return fmt.Errorf("qgov audit: %w", err)
	}
	if err := a.catalog.RecordDisabled(ctx, a.st, a.cfg.Audit); err != nil {
		return fmt.Errorf("qgov audit: %w", err)
	}
	return nil
}

// open takes the store and the audit trail, loads the governance objects
// from the store, and builds the gateway.
func (a *App) open(ctx context.Context) error {
	st, err := a.openStore()
	if err != nil {
		return err
	}
	a.st = st
	if err := a.checkPersistence(ctx); err != nil {
		return err
	}
	if rs, ok := st.(*store.Redis); ok {
		moved, err := rs.Respread(ctx)
		if err != nil {
			return fmt.Errorf("qgov store: spreading the ownership records over shards: %w", err)
		}
		if moved > 0 {
			a.logger.Info("ownership records spread over shards", "moved", moved)
		}
	}
	if err := a.nodes().Beat(ctx, nodeName()); err != nil { // before any request: work this node leaves in flight is its own
		a.logger.Warn("recording that this replica runs", "error", err)
	}
	if a.notifier, err = a.startNotifier(); err != nil {
		return err
	}

	// The governance objects: declared here, and live in the store.
	a.catalog = governance.NewManager(st, a.declared(), a.build, a.use, a.logger)
	m, err := a.catalog.Load(ctx)
	if err != nil {
		return fmt.Errorf("qgov: %w", err)
	}
	for _, f := range m.findings {
		a.logger.Warn("qgov lint: "+f.Message, "kind", f.Kind)
	}
	a.dir, a.policies = org.NewCurrent(m.dir), policy.NewCurrent(m.policies)
	auth, err := a.authenticator(ctx, st, a.dir, a.ring, a.identity)
	if err != nil {
		return err
	}
	trail, source, trailDir, err := a.openAudit(st)
	if err != nil {
		return err
	}
	if a.governor, err = a.newGovernor(st, m.quota); err != nil {
		return err
	}
	a.use(m)
	book := approval.NewBook(st)
	a.leader = new(atomic.Bool)
	a.registerMetrics(a.ctx, trail, book, auth.Providers)
	a.cfg = gateway.Config{
		Directory:    a.dir,
		Auth:         auth,
		Jobs:         jobs.NewRegistry(st, jobsBucket),
		Sessions:     jobs.NewRegistry(st, sessionsBucket),
		Credentials:  a.credentials,
		Quota:        a.governor,
		Policies:     a.policies,
		Approvals:    book,
		Node:         nodeName(),
		Nodes:        a.nodes(),
		Notify:       a.notifier,
		MaxBodyBytes: a.MaxBodySize,
		BodyMemory:   a.BodyMemory,
		Circuits:     a.circuits,
		Audit:        trail,
		Logger:       a.logger,
		Upstream:     a,
		ClientIP:     clientIP,
		Timer:        stepTimer{},
	}
	a.gateway = gateway.New(a.cfg)
	a.gateway.Governance = govapi.New(a.gateway, govapi.Config{Catalog: a.catalog, Outbound: a.outboundHosts, AuditSource: source, AuditDir: trailDir})
	a.console = console.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.serve(w, r) }), a.logger)
	a.notifier.Start() // once the gateway is there to audit dead letters
	return nil
}

// startWait bounds how long a request waits for the app to start: the
// HTTP servers may start before it.
const startWait = 10 * time.Second

// running returns the gateway once Start has built it, or nil when Start
// failed, did not finish within startWait, or the request ended first.
func (a *App) running(ctx context.Context) *gateway.Gateway {
	select {
	case <-a.started:
		return a.gateway
	default:
	}
	a.logger.Debug("a request waits for the qgov app to start")
	t := time.NewTimer(startWait)
	defer t.Stop()
	select {
	case <-a.started:
		return a.gateway
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// serve runs a request through the gateway and counts its decision.
func (a *App) serve(w http.ResponseWriter, r *http.Request) gateway.Decision {
	d := a.gateway.Serve(w, r)
	countDecision(&d)
	return d
}

// Stop ends the key rotation and the reconciler, and stops delivering
// notifications: those not yet delivered wait in the outbox.
func (a *App) Stop() error {
	if a.stop != nil {
		a.stop()
	}
	if a.reconciling != nil { // it releases its lease while the store is open
		select {
		case <-a.reconciling:
		case <-time.After(5 * time.Second):
		}
	}
	if a.notifier != nil {
		a.notifier.Close()
	}
	return nil
}

// Cleanup releases the pooled store and token sources.
func (a *App) Cleanup() error {
	var errs []error
	if a.storeKey != "" {
		if _, err := stores.Delete(a.storeKey); err != nil {
			errs = append(errs, err)
		}
	}
	if a.auditKey != "" {
		if _, err := audits.Delete(a.auditKey); err != nil {
			errs = append(errs, err)
		}
	}
	for k := range a.heldTokens() {
		if _, err := tokenSources.Delete(k); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Interface guards.
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
