package org

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Defaults of a tenant's sign-in sessions.
const (
	DefaultSessionIdle = 30 * time.Minute
	DefaultSessionMax  = 12 * time.Hour
)

// IP allowlist modes.
const (
	// IPEnforce refuses requests from outside the allowlist.
	IPEnforce = "enforce"
	// IPAudit lets them through and records that they came from outside.
	IPAudit = "audit"
)

// TenantSettings are a tenant's settings. A tenant that is not
// configured gets the defaults. Tenants are isolated: users, projects,
// instances, groups, jobs and sessions of one are invisible to another.
type TenantSettings struct {
	// Name identifies the tenant, for example "research-alpha".
	Name string `json:"name"`
	// DisplayName is the tenant's human name.
	DisplayName string `json:"display_name,omitempty"`
	// DefaultBackend and DefaultShots fill in a submission that names no
	// backend ("simulator": the first simulator among the instance's
	// backends) or, for a sampler, no shots; MaxShots is the tenant's
	// ceiling of shots per job.
	DefaultBackend string `json:"default_backend,omitempty"`
	DefaultShots   int    `json:"default_shots,omitempty"`
	MaxShots       int    `json:"max_shots,omitempty"`
	// RequireJobApproval holds jobs estimated to cost at least
	// ApprovalThresholdUSD for a team lead's approval (the workflow
	// "tenant_approval": 24 hours, then rejected).
	RequireJobApproval   bool    `json:"require_job_approval,omitempty"`
	ApprovalThresholdUSD float64 `json:"approval_threshold_usd,omitempty"`
	// AllowSelfApproval lets an approver decide their own held jobs.
	// Default false.
	AllowSelfApproval bool `json:"allow_self_approval,omitempty"`
	// TimeZone is the tenant's IANA time zone (e.g. "Europe/Berlin"),
	// in which policies read day_of_week, hour and date and approval
	// limits count days. Default UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// AllowPriorityQueue lets holders of job:priority:high use the
	// priority queue.
	AllowPriorityQueue bool `json:"allow_priority_queue,omitempty"`
	// UserListVisible lets every member list the tenant's users; without
	// it only holders of user:view may.
	UserListVisible bool `json:"user_list_visible,omitempty"`
	// NotifyOnBudgetWarning sends the tenant's budget alerts to its
	// NotificationChannels. NotifyOnJobFailure is read for the YAML
	// form's sake; no notification is sent on a job's failure.
	NotifyOnBudgetWarning bool     `json:"notify_on_budget_warning,omitempty"`
	NotifyOnJobFailure    bool     `json:"notify_on_job_failure,omitempty"`
	NotificationChannels  []string `json:"notification_channels,omitempty"`
	// MFARequired refuses browser sign-ins and identity-provider tokens
	// that do not show a second factor in their amr or acr claims.
	MFARequired bool `json:"mfa_required,omitempty"`
	// SessionIdleSeconds ends a sign-in session unused this long.
	// Default 1800 (30 minutes).
	SessionIdleSeconds int `json:"session_idle_seconds,omitempty"`
	// SessionMaxSeconds ends a sign-in session this long after sign-in,
	// used or not. Default 43200 (12 hours).
	SessionMaxSeconds int `json:"session_max_seconds,omitempty"`
	// APIKeyCreation lets the tenant's users create their own API keys
	// (IBM's "API key creation" account setting). Default false.
	APIKeyCreation bool `json:"api_key_creation,omitempty"`
	// IPAllowlist lists the address ranges (IPv4 or IPv6 CIDR, or single
	// addresses) the tenant's users may call from; empty allows any.
	IPAllowlist []string `json:"ip_allowlist,omitempty"`
	// IPMode is "enforce" (default) or "audit".
	IPMode string `json:"ip_mode,omitempty"`
	// Source is where the tenant was declared, named in errors.
	Source string `json:"source,omitempty"`

	allow []netip.Prefix
	loc   *time.Location
}

// Location is the tenant's time zone.
func (t *TenantSettings) Location() *time.Location {
	if t.loc == nil {
		return time.UTC
	}
	return t.loc
}

// SessionIdle and SessionMax return the session timeouts.
func (t *TenantSettings) SessionIdle() time.Duration {
	return time.Duration(t.SessionIdleSeconds) * time.Second
}

// SessionMax returns the absolute session lifetime.
func (t *TenantSettings) SessionMax() time.Duration {
	return time.Duration(t.SessionMaxSeconds) * time.Second
}

// Allowlist returns the parsed IPAllowlist.
func (t *TenantSettings) Allowlist() []netip.Prefix { return t.allow }

func (t *TenantSettings) fill() error {
	if t.SessionIdleSeconds == 0 {
		t.SessionIdleSeconds = int(DefaultSessionIdle.Seconds())
	}
	if t.SessionMaxSeconds == 0 {
		t.SessionMaxSeconds = int(DefaultSessionMax.Seconds())
	}
	if t.IPMode == "" {
		t.IPMode = IPEnforce
	}
	var errs []error
	if t.SessionIdleSeconds < 0 || t.SessionMaxSeconds < 0 {
		errs = append(errs, errors.New("session timeouts must not be negative"))
	}
	if t.DefaultShots < 0 || t.MaxShots < 0 || t.ApprovalThresholdUSD < 0 {
		errs = append(errs, errors.New("default_shots, max_shots and approval_threshold_usd must not be negative"))
	}
	if t.MaxShots > 0 && t.DefaultShots > t.MaxShots {
		errs = append(errs, fmt.Errorf("default_shots %d exceeds max_shots %d", t.DefaultShots, t.MaxShots))
	}
	if t.IPMode != IPEnforce && t.IPMode != IPAudit {
		errs = append(errs, fmt.Errorf("ip_mode %q: use %q or %q", t.IPMode, IPEnforce, IPAudit))
	}
	if t.TimeZone != "" {
		loc, err := time.LoadLocation(t.TimeZone)
		if err != nil {
			errs = append(errs, fmt.Errorf("time_zone %q: %w", t.TimeZone, err))
		}
		t.loc = loc
	}
	allow, err := ParsePrefixes(t.IPAllowlist)
	if err != nil {
		errs = append(errs, fmt.Errorf("ip_allowlist: %w", err))
	}
	t.allow = allow
	return errors.Join(errs...)
}

// ParsePrefixes parses CIDR ranges and single addresses (as /32 or /128).
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR range", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// AddrAllowed reports whether addr lies in one of the ranges; an empty
// list allows every address.
func AddrAllowed(list []netip.Prefix, addr netip.Addr) bool {
	if len(list) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range list {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Settings returns a tenant's settings, the defaults when it has none.
func (d *Directory) Settings(tenant string) *TenantSettings {
	if t := d.tenants[tenant]; t != nil {
		return t
	}
	return d.defaults(tenant)
}

func (d *Directory) defaults(tenant string) *TenantSettings {
	t := &TenantSettings{Name: tenant}
	_ = t.fill() // the zero settings are valid
	return t
}
