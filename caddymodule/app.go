package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/iam"
	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/ownership"
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
	// Instances are the upstream Qiskit Runtime service instances.
	Instances []org.Instance `json:"instances,omitempty"`
	// Projects group users and grant them instances.
	Projects []org.Project `json:"projects,omitempty"`
	// APIKeys are the qgov API keys callers exchange for access tokens.
	APIKeys []identity.APIKey `json:"api_keys,omitempty"`
	// TokenTTL is the lifetime of access tokens issued at
	// /identity/token. Default 1h.
	TokenTTL caddy.Duration `json:"token_ttl,omitempty"`
	// Issuer is the "iss" claim of issued tokens. Default "qgov".
	Issuer string `json:"issuer,omitempty"`
	// MaxBodySize bounds request bodies in bytes; larger ones get 413.
	// Default 32 MiB.
	MaxBodySize int64 `json:"max_body_size,omitempty"`

	cfg       gateway.Config
	storeKey  string
	tokenKeys []string
	logger    *slog.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "qgov", New: func() caddy.Module { return new(App) }}
}

// Provision resolves secrets, validates the organisation, and takes
// references to the pooled store and token sources, which outlive
// reloads that keep their settings.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Slogger()
	if a.TokenTTL == 0 {
		a.TokenTTL = caddy.Duration(defaultTokenTTL)
	}
	if a.Issuer == "" {
		a.Issuer = defaultIssuer
	}
	if a.MaxBodySize == 0 {
		a.MaxBodySize = defaultMaxBodySize
	}
	repl := caddy.NewReplacer()
	instances, keys, err := a.resolveSecrets(repl)
	if err != nil {
		return err
	}
	dir, err := org.NewDirectory(instances, a.Projects)
	if err != nil {
		return fmt.Errorf("qgov organisation: %w", err)
	}
	ring, err := identity.NewKeyRing(keys)
	if err != nil {
		return fmt.Errorf("qgov api_keys: %w", err)
	}
	if err := checkKeyProjects(keys, dir); err != nil {
		return err
	}

	st, err := a.openStore(repl)
	if err != nil {
		return err
	}
	signer, err := a.signer(ctx, st)
	if err != nil {
		return err
	}
	creds := map[string]gateway.Credentials{}
	for _, in := range dir.Instances() {
		creds[in.Alias] = a.tokenSource(in)
	}
	a.cfg = gateway.Config{
		Directory:    dir,
		Auth:         &identity.Authenticator{Keys: ring, Tokens: signer, Now: time.Now},
		Jobs:         ownership.NewRegistry(st, "jobs"),
		Sessions:     ownership.NewRegistry(st, "sessions"),
		Credentials:  creds,
		MaxBodyBytes: a.MaxBodySize,
		Logger:       a.logger,
	}
	return nil
}

// resolveSecrets returns copies of the instances and API keys with their
// placeholders replaced; an unset or empty placeholder is an error.
func (a *App) resolveSecrets(repl *caddy.Replacer) ([]org.Instance, []identity.APIKey, error) {
	instances := append([]org.Instance(nil), a.Instances...)
	keys := append([]identity.APIKey(nil), a.APIKeys...)
	var errs []error
	resolve := func(what string, s *string) {
		if *s == "" {
			return
		}
		v, err := repl.ReplaceOrErr(*s, true, true)
		if err != nil || v == "" {
			errs = append(errs, fmt.Errorf("%s: the value or placeholder is unset or empty", what))
		}
		*s = v
	}
	for i := range instances {
		resolve(fmt.Sprintf("instance %q api_key", instances[i].Alias), &instances[i].APIKey)
	}
	for i := range keys {
		resolve(fmt.Sprintf("api key %q key", keys[i].ID), &keys[i].Key)
	}
	return instances, keys, errors.Join(errs...)
}

// checkKeyProjects requires every key's projects to exist in its tenant.
func checkKeyProjects(keys []identity.APIKey, dir *org.Directory) error {
	var errs []error
	for _, k := range keys {
		tenant := org.Tenant(k.Tenant)
		for _, p := range k.Projects {
			if dir.Project(tenant, p) == nil {
				errs = append(errs, fmt.Errorf("api key %q: unknown project %q in tenant %q", k.ID, p, tenant))
			}
		}
	}
	return errors.Join(errs...)
}

// signingKeyName is the store record holding the token signing key, so
// that tokens survive restarts and every replica accepts them.
const signingKeyName = "token-signing-key"

// signer loads the shared token signing key, creating it on first use.
func (a *App) signer(ctx context.Context, st store.Store) (*iam.Signer, error) {
	pem, err := st.Get(ctx, "keys", signingKeyName)
	if errors.Is(err, store.ErrNotFound) {
		key, gerr := iam.GenerateKey()
		if gerr != nil {
			return nil, gerr
		}
		// Of replicas starting together, one key wins; all read it back.
		if _, err = st.Create(ctx, "keys", signingKeyName, iam.EncodeKey(key), 0); err == nil {
			pem, err = st.Get(ctx, "keys", signingKeyName)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("loading the token signing key: %w", err)
	}
	key, err := iam.DecodeKey(pem)
	if err != nil {
		return nil, err
	}
	return iam.NewSigner(key, a.Issuer, time.Duration(a.TokenTTL))
}

// Start implements caddy.App.
func (a *App) Start() error { return nil }

// Stop implements caddy.App.
func (a *App) Stop() error { return nil }

// Cleanup releases the pooled store and token sources.
func (a *App) Cleanup() error {
	var errs []error
	if a.storeKey != "" {
		if _, err := stores.Delete(a.storeKey); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range a.tokenKeys {
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
