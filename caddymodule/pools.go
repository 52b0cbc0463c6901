package caddymodule

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/qgov/qgov/ibm/iam"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/store"
)

// Pools of state that outlives config reloads: a reload that keeps a
// store's or a credential's settings reuses the open store and the cached
// upstream token instead of reopening them.
var (
	stores       = caddy.NewUsagePool()
	tokenSources = caddy.NewUsagePool()
)

// StoreConfig selects the durable store.
type StoreConfig struct {
	// Backend is "bolt" (the default: an embedded file, for one node) or
	// "redis" (shared by replicas).
	Backend string `json:"backend,omitempty"`
	// Path is the bolt file. Default "qgov/qgov.db" in Caddy's data
	// directory.
	Path string `json:"path,omitempty"`
	// Addrs are Redis addresses (host:port): one for a standalone server,
	// several for a Cluster, or the Sentinels when MasterName is set.
	Addrs []string `json:"addrs,omitempty"`
	// MasterName selects Redis Sentinel mode.
	MasterName string `json:"master_name,omitempty"`
	// Username and Password authenticate to Redis; use a placeholder such
	// as {env.REDIS_PASSWORD} for the password.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// DB is the Redis database number (standalone and Sentinel only).
	DB int `json:"db,omitempty"`
	// TLS connects to Redis over TLS, trusting the system's roots unless
	// TLSCA is set. Setting any TLS option implies it.
	TLS bool `json:"tls,omitempty"`
	// TLSCA is a PEM file of the certificate authorities to trust for the
	// Redis servers' certificates.
	TLSCA string `json:"tls_ca,omitempty"`
	// TLSCert and TLSKey are PEM files of the client certificate and key
	// qgov shows servers that require one.
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
	// TLSServerName is the name the servers' certificates must carry.
	// Default: the host of each address.
	TLSServerName string `json:"tls_server_name,omitempty"`
	// Cluster speaks the Redis Cluster protocol through one address (a
	// managed service's configuration endpoint); several addresses imply
	// it.
	Cluster bool `json:"cluster,omitempty"`
	// PoolSize is the most connections per Redis node. Default: ten per
	// CPU.
	PoolSize int `json:"pool_size,omitempty"`
	// DialTimeout bounds opening a connection. Default: the quotas'
	// store_timeout, which also bounds every call.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`
	// KeyPrefix starts every Redis key. Default "qgov:".
	KeyPrefix string `json:"key_prefix,omitempty"`
	// RequirePersistence refuses to load the configuration while a Redis
	// server keeps nothing on disk (appendonly no and no save points) or
	// may evict keys (maxmemory-policy other than noeviction), or its
	// settings cannot be read. Without it those are logged as errors, at
	// the load and every ten minutes.
	RequirePersistence bool `json:"require_persistence,omitempty"`
}

// persistenceCheck is the period of the Redis persistence check.
const persistenceCheck = 10 * time.Minute

// checkPersistence reads whether the Redis store keeps what qgov records
// across a restart and under memory pressure; a problem fails the load
// when the store requires persistence, and is logged otherwise.
func (a *App) checkPersistence(ctx context.Context) error {
	r, ok := a.st.(*store.Redis)
	if !ok {
		return nil
	}
	problems, err := r.PersistenceProblems(ctx)
	if err != nil {
		problems = append(problems, "the persistence of the Redis store cannot be verified: "+err.Error())
	}
	if len(problems) == 0 {
		return nil
	}
	if a.Store.RequirePersistence {
		return fmt.Errorf("qgov store redis (require_persistence): %s", strings.Join(problems, "; "))
	}
	for _, p := range problems {
		a.logger.Error("the Redis store may lose governance state: "+p, "fix", "configure Redis as documented, or set require_persistence to refuse such a server")
	}
	return nil
}

// pooledStore lets the pool close a store when no config uses it.
type pooledStore struct{ store.Store }

// Destruct closes the store.
func (p pooledStore) Destruct() error { return p.Close() }

// storeConfig checks the store's settings and fills in their defaults,
// the Redis password's placeholder resolved.
func (a *App) storeConfig(repl *caddy.Replacer) (StoreConfig, error) {
	sc := StoreConfig{}
	if a.Store != nil {
		sc = *a.Store
	}
	switch sc.Backend {
	case "", "bolt":
		if sc.Path == "" {
			sc.Path = filepath.Join(caddy.AppDataDir(), "qgov", "qgov.db")
		}
	case "redis":
		if len(sc.Addrs) == 0 {
			return sc, fmt.Errorf("qgov store redis: at least one address is required")
		}
		if sc.KeyPrefix == "" {
			sc.KeyPrefix = "qgov:"
		}
		pw, err := repl.ReplaceOrErr(sc.Password, true, true)
		if err != nil {
			return sc, fmt.Errorf("qgov store redis password: %w", err)
		}
		sc.Password = pw
		if a.redisTLS, err = sc.tlsConfig(&a.redisTLSFiles); err != nil {
			return sc, fmt.Errorf("qgov store redis: %w", err)
		}
		if sc.PoolSize < 0 {
			return sc, fmt.Errorf("qgov store redis: pool_size %d is negative", sc.PoolSize)
		}
	default:
		return sc, fmt.Errorf("qgov store: unknown backend %q (use bolt or redis)", sc.Backend)
	}
	return sc, nil
}

// tlsConfig is the TLS configuration of the Redis connections, nil
// without TLS. The files are read here, when the configuration is
// checked; what identifies their contents is appended to files.
func (sc StoreConfig) tlsConfig(files *[]byte) (*tls.Config, error) {
	if !sc.TLS && sc.TLSCA == "" && sc.TLSCert == "" && sc.TLSKey == "" && sc.TLSServerName == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: sc.TLSServerName}
	if sc.TLSCA != "" {
		pem, err := os.ReadFile(sc.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("tls_ca: %w", err)
		}
		*files = append(*files, pem...)
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca %s holds no PEM certificate", sc.TLSCA)
		}
	}
	if sc.TLSCert != "" || sc.TLSKey != "" {
		certPEM, err := os.ReadFile(sc.TLSCert)
		if err != nil {
			return nil, fmt.Errorf("tls_cert: %w", err)
		}
		keyPEM, err := os.ReadFile(sc.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("tls_key: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("tls_cert and tls_key: %w", err)
		}
		sum := sha256.Sum256(append(certPEM, keyPEM...)) // the key itself stays out of the pool's key
		*files = append(*files, sum[:]...)
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// The buckets of the job and session ownership records, which grow with
// use: on Redis they are spread over shards.
const (
	jobsBucket     = "jobs"
	sessionsBucket = "sessions"
)

// openStore takes a reference to the configured store, opening it when no
// loaded config holds it yet.
func (a *App) openStore() (store.Store, error) {
	sc := a.storeSettings
	timeout := a.storeTimeout()
	fingerprint, _ := json.Marshal(struct {
		StoreConfig
		Timeout time.Duration
		// TLSFiles are the TLS files' contents: rotating them in place
		// and reloading opens a new client
		TLSFiles []byte
	}{sc, timeout, a.redisTLSFiles})
	sum := sha256.Sum256(fingerprint)
	a.storeKey = hex.EncodeToString(sum[:])
	v, _, err := stores.LoadOrNew(a.storeKey, func() (caddy.Destructor, error) {
		if sc.Backend == "redis" {
			// a server that hangs costs each call its deadline, not the
			// client's default timeouts times its retries
			dial := timeout
			if sc.DialTimeout > 0 {
				dial = time.Duration(sc.DialTimeout)
			}
			opts := &redis.UniversalOptions{Addrs: sc.Addrs, MasterName: sc.MasterName, Username: sc.Username, Password: sc.Password, DB: sc.DB,
				IsClusterMode: sc.Cluster, PoolSize: sc.PoolSize, TLSConfig: a.redisTLS,
				DialTimeout: dial, ReadTimeout: timeout, WriteTimeout: timeout, PoolTimeout: timeout, ContextTimeoutEnabled: true}
			return pooledStore{store.NewRedis(redis.NewUniversalClient(opts), sc.KeyPrefix, timeout).Spread(jobsBucket, sessionsBucket)}, nil
		}
		b, err := store.OpenBolt(sc.Path)
		if err != nil {
			return nil, err
		}
		return pooledStore{b}, nil
	})
	if err != nil {
		a.storeKey = ""
		return nil, fmt.Errorf("qgov store: %w", err)
	}
	return v.(pooledStore).Store, nil
}

// pooledTokens is a pooled upstream token source; it holds nothing to close.
type pooledTokens struct{ *iam.TokenSource }

// Destruct implements caddy.Destructor.
func (pooledTokens) Destruct() error { return nil }

// tokenSource returns the token source of an instance's upstream
// credential, keyed by a hash of the IAM URL and the key; the app takes
// one reference to each it uses.
func (a *App) tokenSource(in *org.Instance) *iam.TokenSource {
	sum := sha256.Sum256([]byte(in.IAMURL + "\x00" + in.APIKey))
	key := hex.EncodeToString(sum[:])
	h := a.held
	h.mu.Lock()
	defer h.mu.Unlock()
	if ts := h.tokens[key]; ts != nil {
		return ts
	}
	v, _ := tokenSources.LoadOrStore(key, pooledTokens{iam.NewTokenSource(in.IAMURL, in.APIKey, nil)})
	if h.tokens == nil {
		h.tokens = map[string]*iam.TokenSource{}
	}
	h.tokens[key] = v.(pooledTokens).TokenSource
	return h.tokens[key]
}
