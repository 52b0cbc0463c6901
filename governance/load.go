package governance

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/rbac"
	"github.com/qgov/qgov/store"
)

// BuildOrg validates an organisation against the API keys and the
// identity providers it must agree with, and lints the result.
func BuildOrg(model org.Config, keys []identity.APIKey, provs []identity.ProviderConfig) (*org.Directory, []org.Finding, error) {
	dir, err := org.NewDirectory(model)
	if err != nil {
		return nil, nil, fmt.Errorf("qgov organisation: %w", err)
	}
	if err := checkReferences(keys, provs, dir); err != nil {
		return nil, nil, err
	}
	return dir, dir.Lint(providerTenants(provs)), nil
}

// checkReferences requires the projects keys narrow to to exist in their
// tenants, and the identity providers access-group rules name to be
// configured.
func checkReferences(keys []identity.APIKey, provs []identity.ProviderConfig, dir *org.Directory) error {
	var errs []error
	tenants := providerTenants(provs)
	for _, g := range dir.AccessGroups() {
		for i, r := range g.Rules {
			if _, ok := tenants[r.Provider]; r.Provider != "" && !ok {
				errs = append(errs, fmt.Errorf("%s: rules[%d]: unknown identity provider %q", rbac.Where("access group", g.Name, g.Source), i, r.Provider))
			}
		}
	}
	for _, k := range keys {
		for _, p := range k.Projects {
			if dir.Project(org.Tenant(k.Tenant), p) == nil {
				errs = append(errs, fmt.Errorf("api key %q: unknown project %q in tenant %q", k.ID, p, org.Tenant(k.Tenant)))
			}
		}
	}
	return errors.Join(errs...)
}

// providerTenants maps each identity provider to its tenant.
func providerTenants(provs []identity.ProviderConfig) map[string]string {
	m := map[string]string{}
	for _, p := range provs {
		m[p.Name] = org.Tenant(p.Tenant)
	}
	return m
}

// snapshotBucket and snapshotKey hold the organisation as last loaded.
const (
	snapshotBucket = "audit"
	snapshotKey    = "org-snapshot"
)

// RecordConfigChanges records in l each object of the organisation a
// loaded configuration declares that it adds, removes or changes since
// the last load (kept in the store, so restarts and replicas compare
// with the same), with before and after.
func RecordConfigChanges(ctx context.Context, st store.Store, l *audit.Log, declared org.Config) error {
	now := org.Snap(declared)
	var before org.Snapshot
	raw, err := st.Get(ctx, snapshotBucket, snapshotKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		before = org.Snapshot{}
	case err != nil:
		return fmt.Errorf("reading the organisation snapshot: %w", err)
	default:
		if err := json.Unmarshal(raw, &before); err != nil {
			before = org.Snapshot{}
		}
	}
	changes := org.Diff(before, now)
	for _, c := range changes {
		t, err := l.Reserve(ctx)
		if err != nil {
			return fmt.Errorf("recording configuration changes: %w", err)
		}
		if err := t.Commit(&audit.Record{Action: audit.ActionConfigLoad, Outcome: audit.Success, InitiatorAuthnName: "configuration",
			Resource: audit.Resource{Type: c.Kind, ID: c.Name}, Before: c.Before, After: c.After, TenantID: changeTenant(c)}); err != nil {
			return fmt.Errorf("recording configuration changes: %w", err)
		}
	}
	if len(changes) == 0 {
		return nil
	}
	b, err := json.Marshal(now)
	if err != nil {
		return err
	}
	return st.Put(ctx, snapshotBucket, snapshotKey, b, 0)
}

// disabledKey keeps the governance objects last found disabled, so that
// each is recorded once when a load disables it.
const disabledKey = "disabled"

// RecordDisabled records in l each governance object created through the
// API that the configuration newly disables (configuration wins).
func (m *Manager[M]) RecordDisabled(ctx context.Context, st store.Store, l *audit.Log) error {
	var before map[string]bool
	if raw, err := st.Get(ctx, snapshotBucket, disabledKey); err == nil {
		_ = json.Unmarshal(raw, &before)
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("reading the disabled objects: %w", err)
	}
	now := map[string]bool{}
	for _, e := range m.Disabled() {
		key := e.Key()
		now[key] = true
		if before[key] {
			continue
		}
		t, err := l.Reserve(ctx)
		if err != nil {
			return fmt.Errorf("recording disabled objects: %w", err)
		}
		if err := t.Commit(&audit.Record{Action: audit.ActionGovernanceDisabled, Outcome: audit.Failure, InitiatorAuthnName: "configuration",
			TenantID: cmp.Or(e.Tenant, e.Owner), Resource: audit.Resource{Type: e.Kind, ID: strings.Trim(e.Tenant+"/"+e.Name, "/")},
			Before: e.Spec, Note: "the configuration contradicts this object created through the API, so it is not in force: " + e.Disabled}); err != nil {
			return fmt.Errorf("recording disabled objects: %w", err)
		}
	}
	if maps.Equal(before, now) {
		return nil
	}
	b, _ := json.Marshal(now)
	return st.Put(ctx, snapshotBucket, disabledKey, b, 0)
}

// changeTenant is the tenant a changed object belongs to, when it names one.
func changeTenant(c org.Change) string {
	var obj struct {
		Tenant string `json:"tenant"`
		Name   string `json:"name"`
	}
	body := c.After
	if body == nil {
		body = c.Before
	}
	_ = json.Unmarshal(body, &obj)
	if c.Kind == "tenant" {
		return obj.Name
	}
	return org.Tenant(obj.Tenant)
}
