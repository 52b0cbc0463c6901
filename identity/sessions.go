package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qgov/qgov/store"
)

// signinBucket holds browser sign-in sessions ("s/<id>", indexed by user
// as "u/<tenant>/<user>/<id>") and pending sign-ins ("l/<state>").
const signinBucket = "signins"

// touchEvery is how often a session's last use is written: the idle
// timeout is exact to within this.
const touchEvery = time.Minute

// errNoSession is returned for a cookie that names no live session.
var errNoSession = errors.New("the sign-in session has ended or the cookie is not valid; sign in again at /auth/login")

// Session is a browser sign-in session. The cookie holds a random secret;
// the session's id is a hash of it, so the store holds nothing a cookie
// could be made from.
type Session struct {
	ID       string `json:"id"`
	Tenant   string `json:"tenant"`
	User     string `json:"user"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	Provider string `json:"provider"`
	// AccessGroups are the sign-in's dynamic memberships.
	AccessGroups []string  `json:"access_groups,omitempty"`
	Groups       []string  `json:"groups,omitempty"`
	MFA          bool      `json:"mfa,omitempty"`
	Created      time.Time `json:"created"`
	LastSeen     time.Time `json:"last_seen"`
	// Expires is the absolute end; IdleSeconds ends it earlier if unused.
	Expires     time.Time `json:"expires"`
	IdleSeconds int       `json:"idle_seconds"`
	IP          string    `json:"ip,omitempty"`
	UserAgent   string    `json:"user_agent,omitempty"`
}

// principal is the caller a session stands for.
func (s *Session) principal() *Principal {
	return &Principal{
		UserID: s.User, Name: s.Name, Email: s.Email, Tenant: s.Tenant, AccessGroups: s.AccessGroups, Groups: s.Groups,
		Provider: s.Provider, SessionID: s.ID, Expires: s.Expires, MFA: s.MFA,
	}
}

// ends returns when the session ends if unused from now on.
func (s *Session) ends() time.Time {
	idle := s.LastSeen.Add(time.Duration(s.IdleSeconds) * time.Second)
	if idle.Before(s.Expires) {
		return idle
	}
	return s.Expires
}

// Sessions keeps sign-in sessions, cached briefly on each replica.
type Sessions struct {
	st    store.Store
	cache cache[Session]
}

// NewSessions returns the sessions kept in st.
func NewSessions(st store.Store) *Sessions { return &Sessions{st: st} }

// sessionID derives a session's id from its cookie secret.
func sessionID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:16])
}

func userSessions(tenant, user string) string { return "u/" + tenant + "/" + user + "/" }

// Create starts a session for p and returns the cookie secret.
func (ss *Sessions) Create(ctx context.Context, s Session, now time.Time) (string, Session, error) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret := hex.EncodeToString(b[:])
	s.ID, s.Created, s.LastSeen = sessionID(secret), now, now
	if err := ss.write(ctx, s, now); err != nil {
		return "", s, err
	}
	if err := ss.st.Put(ctx, signinBucket, userSessions(s.Tenant, s.User)+s.ID, nil, s.Expires.Sub(now)); err != nil {
		return "", s, unavailable(fmt.Errorf("indexing session: %w", err))
	}
	return secret, s, nil
}

func (ss *Sessions) write(ctx context.Context, s Session, now time.Time) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := ss.st.Put(ctx, signinBucket, "s/"+s.ID, raw, s.ends().Sub(now)); err != nil {
		return unavailable(fmt.Errorf("writing session: %w", err))
	}
	ss.cache.put(s.ID, s, now.Add(recordTTL))
	return nil
}

// Get returns a session by id, or errNoSession.
func (ss *Sessions) Get(ctx context.Context, id string, now time.Time) (Session, error) {
	if s, ok := ss.cache.get(id, now); ok && s.ID != "" && now.Before(s.ends()) {
		return s, nil
	}
	raw, err := ss.st.Get(ctx, signinBucket, "s/"+id)
	var s Session
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s, errNoSession
	case err != nil:
		return s, unavailable(fmt.Errorf("reading session: %w", err))
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, unavailable(fmt.Errorf("decoding session: %w", err))
	}
	if !now.Before(s.ends()) {
		return s, errNoSession
	}
	ss.cache.put(id, s, now.Add(recordTTL))
	return s, nil
}

// Resolve returns the live session a cookie secret names, recording its
// use (at most once a minute) to extend the idle timeout.
func (ss *Sessions) Resolve(ctx context.Context, secret string, now time.Time) (Session, error) {
	if len(secret) != 64 || strings.Trim(secret, "0123456789abcdef") != "" {
		return Session{}, errNoSession
	}
	s, err := ss.Get(ctx, sessionID(secret), now)
	if err != nil {
		return s, err
	}
	if now.Sub(s.LastSeen) >= touchEvery {
		s.LastSeen = now
		if err := ss.write(ctx, s, now); err != nil {
			return s, err
		}
	}
	return s, nil
}

// List returns a user's live sessions.
func (ss *Sessions) List(ctx context.Context, tenant, user string, now time.Time) ([]Session, error) {
	out := []Session{}
	entries, err := ss.st.List(ctx, signinBucket, userSessions(tenant, user), "", 1000)
	if err != nil {
		return nil, unavailable(fmt.Errorf("listing sessions: %w", err))
	}
	for _, e := range entries {
		if s, err := ss.Get(ctx, e.Key[strings.LastIndexByte(e.Key, '/')+1:], now); err == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// End terminates a session.
func (ss *Sessions) End(ctx context.Context, s Session) error {
	if err := ss.st.Delete(ctx, signinBucket, "s/"+s.ID); err != nil {
		return unavailable(fmt.Errorf("ending session: %w", err))
	}
	ss.cache.drop(s.ID)
	return ss.st.Delete(ctx, signinBucket, userSessions(s.Tenant, s.User)+s.ID)
}

// EndAll terminates every session of a user and returns how many.
func (ss *Sessions) EndAll(ctx context.Context, tenant, user string, now time.Time) (int, error) {
	list, err := ss.List(ctx, tenant, user, now)
	if err != nil {
		return 0, err
	}
	for _, s := range list {
		if err := ss.End(ctx, s); err != nil {
			return 0, err
		}
	}
	return len(list), nil
}
