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
// the access groups their last sign-in or token made them a member of
// and until when, and
// the time before which their sessions and tokens no longer count.
type UserRecord struct {
	Tenant   string `json:"tenant"`
	User     string `json:"user"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	Provider string `json:"provider,omitempty"`
	// AccessGroups are the groups dynamic rules made the user a member
	// of, valid until AccessUntil: the expiry of the token or session that
	// carried the claims. The user's API keys act with these memberships.
	AccessGroups []string  `json:"access_groups,omitempty"`
	AccessUntil  time.Time `json:"access_until,omitzero"`
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
// the dynamic memberships and how long they last. It writes only when that changes,
// not on every request.
func (u *Users) Observe(ctx context.Context, p *Principal, now time.Time) error {
	r, err := u.Get(ctx, p.Tenant, p.UserID, now)
	if err != nil {
		return err
	}
	if slices.Equal(r.AccessGroups, p.AccessGroups) && !p.Expires.After(r.AccessUntil) && r.Name == p.Name && r.Email == p.Email {
		return nil
	}
	r.Name, r.Email, r.Provider, r.AccessGroups, r.AccessUntil, r.LastSeen = p.Name, p.Email, p.Provider, p.AccessGroups, p.Expires, now
	return u.put(ctx, r, now)
}

// AccessGroupsAt returns the dynamic memberships a user holds at a time:
// the record's while its AccessUntil lasts.
func (r UserRecord) AccessGroupsAt(now time.Time) []string {
	if now.After(r.AccessUntil) {
		return nil
	}
	return r.AccessGroups
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
