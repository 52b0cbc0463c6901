// Package gateway is qgov's request pipeline. Every Runtime API request
// passes the same steps, each in one place:
//
//	identity   authenticate the caller; apply IP allowlists and the
//	           key's scopes                            (identity)
//	org        resolve Service-CRN to an instance the caller's projects may use (org)
//	RBAC       a role of the caller's projects must grant the route (rbac)
//	limits     count the request against rates (quota)
//	policies   expr rules block, modify or announce a request; workflows
//	           hold a job for approval (policy)
//	admission  admit a job against its size, backend, job counts and
//	           budgets in one atomic step (quota)
//	approval   hold the job, exactly as it would be forwarded, until its
//	           approvers decide; release it once (approval)
//	access     classify the route and check the job or session is the caller's (runtimeapi, ownership)
//	upstream   forward with the instance's CRN and credentials (Upstream)
//	record     remember who owns what the upstream created (ownership),
//	           and bind a job's reservation to it, or release it (quota)
//	audit      one record per request, its room reserved before anything
//	           is forwarded (audit)
//
// The gateway also serves the IBM Cloud stand-ins a Qiskit client calls
// first (IAM's /identity/token, Global Search and Global Catalog) and
// browser sign-in with self-service keys and sessions under /auth/, and
// mounts the governance API under /governance/v1/ (Governance, package
// govapi), auditing its requests as its own. A held job's whole life,
// hold, decide, release and expire, is here (hold.go, decide.go,
// release.go).
package gateway

import (
	"context"

	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/qgov/qgov/approval"
	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/circuit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/jobs"
	"github.com/qgov/qgov/notify"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/policy"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/store"
)

// Governance serves a request under GovernancePrefix, authenticating its
// caller, and returns the request's decision, which the gateway audits.
type Governance interface {
	ServeGovernance(w http.ResponseWriter, r *http.Request, d Decision) Decision
}

// GovernancePrefix is where the governance API lives.
const GovernancePrefix = "/governance/v1/"

// Upstream sends a prepared request to an instance's upstream and writes
// the answer to w. An error means nothing was written.
type Upstream interface {
	Forward(w http.ResponseWriter, r *http.Request, in *org.Instance) error
}

// Credentials yields an instance's upstream bearer token.
type Credentials interface {
	Token(ctx context.Context) (string, error)
}

// Config wires a Gateway.
type Config struct {
	// Directory is the organisation in force, shared with Auth and
	// replaced whole by governance changes.
	Directory *org.Current
	Auth      *identity.Authenticator
	Jobs      *jobs.Registry
	Sessions  *jobs.Registry
	Upstream  Upstream
	// Credentials returns an instance's upstream credentials, or nil.
	Credentials func(in *org.Instance) Credentials
	// MaxBodyBytes bounds request bodies; larger ones get 413.
	MaxBodyBytes int64
	// BodyMemory bounds the memory of the request bodies held at once,
	// each counted with ReadingRoom for its reading; a request waits
	// briefly for room, then gets 503 with Retry-After. Default: room for
	// eight bodies of MaxBodyBytes.
	BodyMemory int64
	// Circuits bound the work of reading one job's circuits. Default
	// circuit.DefaultLimits.
	Circuits circuit.Limits
	// ClientIP returns the client's address as the server established it
	// (behind trusted proxies only). Default: the connection's peer.
	ClientIP func(*http.Request) netip.Addr
	// Quota admits jobs and counts requests against limits and budgets.
	// Default: no limits, counted in the store of Jobs.
	Quota *quota.Governor
	// Notify delivers budget alerts to the tenants' notification
	// channels; nil only records them in the audit trail.
	Notify *notify.Notifier
	// Audit records every request; nil records nothing.
	Audit *audit.Log
	// Policies are the compiled policies and workflows in force; nil, or
	// a nil Set, has none.
	Policies *policy.Current
	// Timer observes how long each step of a request took (metrics); nil
	// observes nothing.
	Timer Timer
	// Governance serves the governance API under GovernancePrefix
	// (package govapi); nil answers its routes with 404.
	Governance Governance
	// Approvals keeps held jobs; required when a workflow can hold one.
	Approvals *approval.Book
	// Node names this replica in the records it makes (a submission in
	// flight, a hold's fate), so that another finishes what it leaves
	// unfinished if it stops.
	Node string
	// Nodes tells whether another replica is still running; nil presumes
	// it is until its work is older than orphanAfter.
	Nodes  Liveness
	Logger *slog.Logger
	Now    func() time.Time
}

// Gateway serves the Runtime API and the IBM Cloud stand-ins.
type Gateway struct {
	Config
	// settling holds the reservations this replica has begun to settle.
	settling sync.Map
	// bodies is the room for request bodies (BodyMemory).
	bodies *semaphore.Weighted
}

// New returns a Gateway.
func New(cfg Config) *Gateway {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = peerAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Policies == nil {
		cfg.Policies = policy.NewCurrent(nil)
	}
	if cfg.Credentials == nil {
		cfg.Credentials = func(*org.Instance) Credentials { return nil }
	}
	if cfg.Quota == nil {
		var counters quota.Counters = store.NewMemory(nil)
		if cfg.Jobs != nil {
			if c, ok := cfg.Jobs.Store().(quota.Counters); ok {
				counters = c // reservations beside the jobs' records, bound in one step
			}
		}
		cfg.Quota, _ = quota.New(quota.Config{}, counters, quota.Options{}) // an empty config is valid
	}
	if cfg.Circuits == (circuit.Limits{}) {
		cfg.Circuits = circuit.DefaultLimits
	}
	g := &Gateway{Config: cfg}
	if cfg.MaxBodyBytes > 0 {
		room := cfg.BodyMemory
		if room <= 0 {
			room = 8 * (cfg.MaxBodyBytes + ReadingRoom)
		}
		g.bodies = semaphore.NewWeighted(max(room, cfg.MaxBodyBytes+ReadingRoom)) // room for at least one body of the largest size
	}
	return g
}

// Decision is what the gateway decided about a request, for logs and the
// audit trail.
type Decision struct {
	User     string
	KeyID    string
	Tenant   string
	Project  string
	Instance string
	Action   runtimeapi.Action
	// Outcome is "allowed", "denied", "held" (waiting for approval) or
	// "modified" (allowed as a policy rewrote it).
	Outcome string
	// Code is a denial's error code; Reason says why.
	Code   string
	Reason string
	// Note records what an allowed request should be audited for, such
	// as a call from outside an IP allowlist in audit mode.
	Note string
	// Trace is the request's id: the trace of an error body, and the
	// audit record's trace_id.
	Trace string
	// Status is the HTTP status answered.
	Status int

	// rules name the policies, workflows and limits that decided.
	rules    []string
	caller   *identity.Principal
	resource audit.Resource
	request  *audit.Request
	jobID    string
	// subject, before and after describe a change to another user's
	// object.
	subject       string
	before, after any
}

// note adds to the decision's note.
func (d *Decision) note(s string) {
	d.Note = strings.TrimPrefix(d.Note+"; "+s, "; ")
}

// SetResource names what the request acts on, for its audit record.
func (d *Decision) SetResource(r audit.Resource) { d.resource = r }

// SetSubject names the user whose object the request acts on, when not
// the caller.
func (d *Decision) SetSubject(user string) { d.subject = user }

// SetChange records what a change made of its object: before and after.
func (d *Decision) SetChange(before, after any) { d.before, d.after = before, after }

// Identify records who the caller is.
func (d *Decision) Identify(p *identity.Principal) {
	d.caller = p
	d.User, d.KeyID, d.Tenant = p.UserID, p.KeyID, p.Tenant
}

// mount is a part of the URL space the gateway serves: a path, or with
// a trailing slash every path below it, and what serves it.
type mount struct {
	path  string
	serve func(g *Gateway, w http.ResponseWriter, r *http.Request, d Decision) Decision
}

// mounts are the gateway's parts of the URL space; Handles and route read
// this one table. The routes within each part are its own table (package
// internal/route): every path below a mount is the gateway's to answer,
// an unclean one included, so no other handler reads it differently.
var mounts = []mount{
	{"/identity/token", (*Gateway).issueToken},
	{"/identity/keys", (*Gateway).serveKeys},
	{"/auth/", (*Gateway).serveAuth},
	{"/global-search/", (*Gateway).serveDiscovery},
	{"/global-catalog/", (*Gateway).serveDiscovery},
	{GovernancePrefix, (*Gateway).serveGovernance},
	{runtimeapi.Prefixes[0], (*Gateway).serveRuntime},
	{runtimeapi.Prefixes[0] + "/", (*Gateway).serveRuntime},
	{runtimeapi.Prefixes[1], (*Gateway).serveRuntime},
	{runtimeapi.Prefixes[1] + "/", (*Gateway).serveRuntime},
}

// mountOf is the mount of a path, or nil.
func mountOf(p string) *mount {
	for i := range mounts {
		m := &mounts[i]
		if p == m.path || strings.HasSuffix(m.path, "/") && strings.HasPrefix(p, m.path) {
			return m
		}
	}
	return nil
}

// Handles reports whether the gateway serves the request's path; other
// paths are left to the next handler.
func Handles(r *http.Request) bool { return mountOf(r.URL.Path) != nil }

// Serve handles a request whose path Handles accepted. Room for its audit
// record is reserved first: when the trail cannot take it, the request is
// refused with 503 before anything is forwarded, so a client's retry is
// safe.
func (g *Gateway) Serve(w http.ResponseWriter, r *http.Request) Decision {
	d := Decision{Trace: traceOf(r.Context())}
	var ticket *audit.Ticket
	if g.Audit != nil {
		var err error
		if ticket, err = g.Audit.Reserve(r.Context()); err != nil {
			g.Logger.Error("refusing a request: the audit trail cannot record it", "error", err)
			d = Deny(w, d, &denial.Denial{Code: "audit_unavailable", RetryAfter: 5,
				Message: "the gateway cannot record this request in its audit trail right now, so it forwards nothing; retry shortly"})
			d.Status = http.StatusServiceUnavailable
			return d
		}
		defer ticket.Release()
	}
	sw := &statusWriter{ResponseWriter: w}
	d = g.route(sw, r, d)
	d.Status = sw.status
	if ticket != nil {
		start := time.Now()
		err := ticket.Commit(g.auditRecord(r, &d))
		g.observe(r.Context(), StepAudit, start)
		if err != nil {
			g.Logger.Error("audit record not yet durable", "trace", d.Trace, "error", err)
		}
	}
	return d
}

// route serves the request by its mount.
func (g *Gateway) route(w http.ResponseWriter, r *http.Request, d Decision) Decision {
	return mountOf(r.URL.Path).serve(g, w, r, d)
}

// serveKeys serves the token signing keys at /identity/keys.
func (g *Gateway) serveKeys(w http.ResponseWriter, r *http.Request, d Decision) Decision {
	d.Action = audit.ActionTokenKeys
	if r.Method != http.MethodGet {
		return Deny(w, d, MethodNotAllowed(r, http.MethodGet))
	}
	g.Auth.Tokens.ServeKeys(w, r)
	d.Outcome = "allowed"
	return d
}

// serveGovernance serves the governance API, when one is mounted.
func (g *Gateway) serveGovernance(w http.ResponseWriter, r *http.Request, d Decision) Decision {
	if g.Governance == nil {
		return Deny(w, d, denial.New("unknown_route", r.URL.Path+" is not served: this gateway has no governance API"))
	}
	return g.Governance.ServeGovernance(w, r, d)
}

// MethodNotAllowed refuses a method a path is not served with, naming
// those it is (allow, also the Allow header).
func MethodNotAllowed(r *http.Request, allow string) *denial.Denial {
	d := denial.New("method_not_allowed", r.Method+" is not served on "+r.URL.Path+"; it is served with "+allow)
	d.Header = http.Header{"Allow": {allow}}
	return d
}

// issueToken exchanges an API key at /identity/token.
func (g *Gateway) issueToken(w http.ResponseWriter, r *http.Request, d Decision) Decision {
	d.Action = audit.ActionToken
	if r.Method != http.MethodPost {
		return Deny(w, d, MethodNotAllowed(r, http.MethodPost))
	}
	ev := g.Auth.IssueToken(w, r, g.ClientIP(r))
	d.Outcome = "allowed"
	d.Absorb(ev)
	if ev.Code != "" {
		d.Outcome, d.Code, d.Reason = "denied", ev.Code, ev.Reason
	}
	return d
}

// serveAuth serves sign-in and the self-service endpoints.
func (g *Gateway) serveAuth(w http.ResponseWriter, r *http.Request, d Decision) Decision {
	ev, err := g.Auth.ServeAuth(w, r, g.ClientIP(r))
	d.Action, d.Outcome = runtimeapi.Action(ev.Action), "allowed"
	d.Absorb(ev)
	if err != nil {
		return Deny(w, d, err)
	}
	return d
}

// Absorb takes what an identity endpoint reported.
func (d *Decision) Absorb(ev identity.Event) {
	if ev.Principal != nil {
		d.Identify(ev.Principal)
	}
	d.resource, d.subject, d.before, d.after = ev.Resource, ev.Subject, ev.Before, ev.After
}

// peerAddr is the address of the connection's peer.
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Deny writes a Runtime API error body and returns the decision.
func Deny(w http.ResponseWriter, d Decision, e *denial.Denial) Decision {
	runtimeapi.WriteDenial(w, e, d.Trace)
	d.Outcome, d.Code, d.Reason = "denied", e.Code, e.Message
	return d
}
