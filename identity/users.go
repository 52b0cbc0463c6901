package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/qgov/qgov/store"
)

// usersBucket holds a record per user of an identity provider.
const usersBucket = "users"

// UserRecord is what qgov remembers of a user of an identity provider:
// the projects their last sign-in or token gave them and until when, and
// the time before which their sessions and tokens no longer count.
type UserRecord struct {
	Tenant   string `json:"tenant"`
	User     string `json:"user"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	Provider string `json:"provider,omitempty"`
	// Projects are the projects dynamic rules gave the user, valid until
	// ProjectsUntil: the expiry of the token or session that carried the
	// claims. The user's API keys act with these projects.
	Projects      []string  `json:"projects,omitempty"`
	ProjectsUntil time.Time `json:"projects_until,omitzero"`
	// NotBefore ends every session and identity-provider token of the
	// user issued before it ("sign out everywhere").
	NotBefore time.Time `json:"not_before,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
}

// Users keeps user records, cached briefly on each replica.
type Users struct {
	st    store.Store
	cache cache[UserRecord]
}

// NewUsers returns the user records kept in st.
func NewUsers(st store.Store) *Users { return &Users{st: st} }

func userKey(tenant, user string) string { return tenant + "/" + user }

// Get returns a user's record; an unknown user has an empty one.
func (u *Users) Get(ctx context.Context, tenant, user string, now time.Time) (UserRecord, error) {
	k := userKey(tenant, user)
	if r, ok := u.cache.get(k, now); ok {
		return r, nil
	}
	r := UserRecord{Tenant: tenant, User: user}
	raw, err := u.st.Get(ctx, usersBucket, k)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return r, unavailable(fmt.Errorf("reading user %s: %w", k, err))
	default:
		if err := json.Unmarshal(raw, &r); err != nil {
			return r, unavailable(fmt.Errorf("decoding user %s: %w", k, err))
		}
	}
	u.cache.put(k, r, now.Add(recordTTL))
	return r, nil
}

func (u *Users) put(ctx context.Context, r UserRecord, now time.Time) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	k := userKey(r.Tenant, r.User)
	if err := u.st.Put(ctx, usersBucket, k, raw, 0); err != nil {
		return unavailable(fmt.Errorf("writing user %s: %w", k, err))
	}
	u.cache.put(k, r, now.Add(recordTTL))
	return nil
}

// Observe records what a verified token or new session says of its user:
// the projects and how long they last. It writes only when that changes,
// not on every request.
func (u *Users) Observe(ctx context.Context, p *Principal, now time.Time) error {
	r, err := u.Get(ctx, p.Tenant, p.UserID, now)
	if err != nil {
		return err
	}
	if slices.Equal(r.Projects, p.Projects) && !p.Expires.After(r.ProjectsUntil) && r.Name == p.Name && r.Email == p.Email {
		return nil
	}
	r.Name, r.Email, r.Provider, r.Projects, r.ProjectsUntil, r.LastSeen = p.Name, p.Email, p.Provider, p.Projects, p.Expires, now
	return u.put(ctx, r, now)
}

// ProjectsAt returns the projects a user holds at a time: the record's
// while its ProjectsUntil lasts.
func (r UserRecord) ProjectsAt(now time.Time) []string {
	if now.After(r.ProjectsUntil) {
		return nil
	}
	return r.Projects
}

// SignOut ends every session and identity-provider token of the user
// issued before now.
func (u *Users) SignOut(ctx context.Context, tenant, user string, now time.Time) error {
	r, err := u.Get(ctx, tenant, user, now)
	if err != nil {
		return err
	}
	r.NotBefore = now
	return u.put(ctx, r, now)
}
