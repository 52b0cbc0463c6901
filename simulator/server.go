package simulator

import (
	"context"
	"crypto/rsa"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/qgov/qgov/ibm/iam"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/simulator/appid"
)

// Server is the simulator: an http.Handler serving IAM, instance discovery
// and the Runtime API, with a bounded job queue and a worker pool.
type Server struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	tokens *iam.Signer
	appID  *appid.Provider

	identities map[string]identity // key id → identity
	instances  []*instance
	backends   []*backend
	mux        *http.ServeMux

	mu       sync.Mutex
	jobs     map[string]*job
	sessions map[string]*session

	queue  chan *job
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// instance is a provisioned service instance with its usage account.
type instance struct {
	InstanceConfig
	keys     map[string]bool // key ids allowed to use it
	backends map[string]bool // nil: all
	jobIDs   []string        // in creation order
	finished int             // how many of them are final
	pruned   time.Time       // when they were last pruned
	consumed float64         // quantum seconds this period
	period   time.Time       // start of the usage period
}

// Option customises a Server.
type Option func(*Server)

// WithLogger sets the logger for job lifecycle events.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithClock replaces the wall clock (for tests of expiry and retention).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// New validates cfg (after filling defaults) and starts the simulator's
// workers; Close stops them.
func New(cfg Config, opts ...Option) (*Server, error) {
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid simulator config: %w", err)
	}
	s := &Server{
		cfg:        cfg,
		log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		now:        time.Now,
		identities: map[string]identity{},
		jobs:       map[string]*job{},
		sessions:   map[string]*session{},
		queue:      make(chan *job, cfg.QueueSize),
	}
	for _, o := range opts {
		o(s)
	}
	// Timestamps carry microseconds, as IBM's do and Python parses.
	clock := s.now
	s.now = func() time.Time { return clock().UTC().Truncate(time.Microsecond) }
	key, err := iam.GenerateKey()
	if err != nil {
		return nil, err
	}
	if s.tokens, err = iam.NewSigner([]*rsa.PrivateKey{key}, cfg.Issuer, time.Duration(cfg.TokenTTLSeconds)*time.Second); err != nil {
		return nil, err
	}
	if s.appID, err = appid.New(cfg.AppID, appid.WithClock(clock)); err != nil {
		return nil, err
	}
	for _, b := range cfg.Backends {
		s.backends = append(s.backends, newBackend(b))
	}
	for _, ic := range cfg.Instances {
		in := &instance{InstanceConfig: ic, keys: map[string]bool{}, period: monthStart(s.now())}
		account := strings.TrimPrefix(strings.Split(ic.CRN, ":")[6], "a/")
		for _, k := range ic.APIKeys {
			id, hash := keyID(k)
			in.keys[id] = true
			if _, ok := s.identities[id]; !ok {
				s.identities[id] = identity{Identity: iam.Identity{IAMID: "iam-ServiceId-" + id, KeyID: id, Account: account}, hash: hash}
			}
		}
		if len(ic.Backends) > 0 {
			in.backends = map[string]bool{}
			for _, b := range ic.Backends {
				in.backends[b] = true
			}
		}
		s.instances = append(s.instances, in)
	}
	s.routes()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for i := 0; i < cfg.Workers; i++ {
		s.wg.Add(1)
		go s.worker()
	}
	return s, nil
}

// Close cancels running jobs and stops the workers.
func (s *Server) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// lookupKey returns the identity of an API key, comparing hashes in
// constant time.
func (s *Server) lookupKey(apiKey string) (identity, bool) {
	id, hash := keyID(apiKey)
	ident, ok := s.identities[id]
	if !ok || subtle.ConstantTimeCompare(ident.hash[:], hash[:]) != 1 {
		return identity{}, false
	}
	return ident, true
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /identity/token", s.handleToken)
	m.Handle(s.appID.BasePath()+"/", s.appID)
	m.HandleFunc("GET /identity/keys", s.tokens.ServeKeys)
	m.HandleFunc("POST /global-search/v3/resources/search", s.bearer(s.handleSearch))
	m.HandleFunc("GET /global-catalog/api/v1/{id}", s.bearer(s.handleCatalog))

	m.HandleFunc("GET /api/v1/backends", s.runtime(s.handleBackends))
	m.HandleFunc("GET /api/v1/backends/{name}/configuration", s.runtime(s.handleBackendDoc))
	m.HandleFunc("GET /api/v1/backends/{name}/properties", s.runtime(s.handleBackendDoc))
	m.HandleFunc("GET /api/v1/backends/{name}/status", s.runtime(s.handleBackendDoc))
	m.HandleFunc("GET /api/v1/instances/usage", s.runtime(s.handleUsage))

	m.HandleFunc("POST /api/v1/jobs", s.runtime(s.handleCreateJob))
	m.HandleFunc("GET /api/v1/jobs", s.runtime(s.handleListJobs))
	m.HandleFunc("GET /api/v1/jobs/{id}", s.runtime(s.handleGetJob))
	m.HandleFunc("DELETE /api/v1/jobs/{id}", s.runtime(s.handleDeleteJob))
	m.HandleFunc("GET /api/v1/jobs/{id}/results", s.runtime(s.handleResults))
	m.HandleFunc("POST /api/v1/jobs/{id}/cancel", s.runtime(s.handleCancelJob))
	m.HandleFunc("GET /api/v1/jobs/{id}/logs", s.runtime(s.handleLogs))
	m.HandleFunc("GET /api/v1/jobs/{id}/metrics", s.runtime(s.handleMetrics))
	m.HandleFunc("PUT /api/v1/jobs/{id}/tags", s.runtime(s.handleTags))

	m.HandleFunc("POST /api/v1/sessions", s.runtime(s.handleCreateSession))
	m.HandleFunc("GET /api/v1/sessions/{id}", s.runtime(s.handleGetSession))
	m.HandleFunc("PATCH /api/v1/sessions/{id}", s.runtime(s.handleUpdateSession))
	m.HandleFunc("DELETE /api/v1/sessions/{id}/close", s.runtime(s.handleCloseSession))

	m.HandleFunc("/", s.handleUnrouted)
	s.mux = m
}

// ServeHTTP serves a request; a panic in a handler becomes a 500 error
// body and the simulator keeps serving.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("handler panic", "path", r.URL.Path, "panic", v)
			fail(w, runtimeapi.Errorf(http.StatusInternalServerError, "internal_error", "internal error"))
		}
	}()
	if r.ContentLength > s.cfg.MaxBodyBytes {
		fail(w, runtimeapi.Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("the request body exceeds %d bytes", s.cfg.MaxBodyBytes)))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	s.mux.ServeHTTP(w, r)
}

// handleUnrouted answers 405 (with Allow) for a known path and a wrong
// method, and 404 otherwise, both with the Runtime API error body.
func (s *Server) handleUnrouted(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		fail(w, runtimeapi.Errorf(http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", "))))
		return
	}
	fail(w, runtimeapi.Errorf(http.StatusNotFound, "not_found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)))
}

func fail(w http.ResponseWriter, e *runtimeapi.Error) { e.Write(w, runtimeapi.NewTrace()) }

// caller is the authenticated identity and the instance it addresses.
type caller struct {
	identity
	inst *instance
}

// authenticate reads the Authorization header: a Bearer token this
// simulator issued, or "apikey <key>" (the Qiskit client's fallback).
func (s *Server) authenticate(r *http.Request) (identity, *runtimeapi.Error) {
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case h == "":
		return identity{}, runtimeapi.Errorf(http.StatusUnauthorized, "unauthorized", "missing Authorization header: send \"Bearer <IAM access token>\"")
	case strings.EqualFold(scheme, "Bearer") && cred != "":
		claims, err := s.tokens.Verify(cred, s.now())
		if err != nil {
			return identity{}, runtimeapi.Errorf(http.StatusUnauthorized, "unauthorized", err.Error())
		}
		id, ok := s.identities[claims.KeyID]
		if !ok {
			return identity{}, runtimeapi.Errorf(http.StatusUnauthorized, "unauthorized", "the bearer token's API key is no longer configured")
		}
		return id, nil
	case strings.EqualFold(scheme, "apikey") && cred != "":
		id, ok := s.lookupKey(cred)
		if !ok {
			return identity{}, runtimeapi.Errorf(http.StatusUnauthorized, "unauthorized", "the API key is not valid")
		}
		return id, nil
	}
	return identity{}, runtimeapi.Errorf(http.StatusUnauthorized, "unauthorized", "the Authorization header must be \"Bearer <token>\" or \"apikey <key>\"")
}

// bearer wraps IBM Cloud platform endpoints (search, catalog).
func (s *Server) bearer(h func(http.ResponseWriter, *http.Request, identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.authenticate(r)
		if err != nil {
			fail(w, err)
			return
		}
		h(w, r, id)
	}
}

// runtime wraps Runtime API endpoints: it authenticates the caller and
// resolves the Service-CRN header (a CRN or an instance name) to an
// instance the caller's key may use.
func (s *Server) runtime(h func(http.ResponseWriter, *http.Request, *caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.authenticate(r)
		if err != nil {
			fail(w, err)
			return
		}
		crn := strings.TrimSpace(r.Header.Get("Service-CRN"))
		if crn == "" {
			fail(w, runtimeapi.Errorf(http.StatusBadRequest, "missing_service_crn", "missing Service-CRN header: name the service instance's CRN"))
			return
		}
		for _, in := range s.instances {
			if in.CRN == crn || in.Name == crn {
				if !in.keys[id.KeyID] {
					break
				}
				h(w, r, &caller{identity: id, inst: in})
				return
			}
		}
		fail(w, runtimeapi.Errorf(http.StatusForbidden, "instance_not_accessible",
			fmt.Sprintf("service instance %q does not exist or is not accessible with this API key", crn)))
	}
}
