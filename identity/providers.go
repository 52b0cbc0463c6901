package identity

import (
	"errors"
	"fmt"
	"net/http"
)

// Providers are the configured identity providers, by issuer and name.
type Providers struct {
	byIssuer map[string]*provider
	byName   map[string]*provider
	order    []*provider
}

// NewProviders validates the providers (filling defaults). They fetch
// discovery and keys with client, on first use.
func NewProviders(cfgs []ProviderConfig, client *http.Client) (*Providers, error) {
	ps := &Providers{byIssuer: map[string]*provider{}, byName: map[string]*provider{}}
	var errs []error
	for _, c := range cfgs {
		if err := c.validate(); err != nil {
			errs = append(errs, fmt.Errorf("identity provider %q: %w", c.Name, err))
			continue
		}
		if ps.byIssuer[c.Issuer] != nil || ps.byName[c.Name] != nil {
			errs = append(errs, fmt.Errorf("identity provider %q: name or issuer declared twice", c.Name))
			continue
		}
		p := newProvider(c, client)
		ps.byIssuer[c.Issuer], ps.byName[c.Name] = p, p
		ps.order = append(ps.order, p)
	}
	unprefixed := map[string]string{} // tenant → the provider whose ids have no prefix
	for _, p := range ps.order {
		if p.cfg.UserPrefix != "" {
			continue
		}
		if other, ok := unprefixed[p.cfg.Tenant]; ok {
			errs = append(errs, fmt.Errorf("identity providers %q and %q both give tenant %s user ids without a prefix, so one person could act as another: give one a user_prefix",
				other, p.cfg.Name, p.cfg.Tenant))
		}
		unprefixed[p.cfg.Tenant] = p.cfg.Name
	}
	return ps, errors.Join(errs...)
}

// Failures are a provider's tokens that could not be verified since it
// was configured: because its discovery or keys could not be fetched
// (Unreachable), or because they did not verify (Refused).
type Failures struct {
	Provider             string
	Unreachable, Refused int64
}

// Failures returns each provider's failures, in declaration order.
func (ps *Providers) Failures() []Failures {
	if ps == nil {
		return nil
	}
	out := make([]Failures, len(ps.order))
	for i, p := range ps.order {
		out[i] = Failures{Provider: p.cfg.Name, Unreachable: p.unreachable.Load(), Refused: p.refused.Load()}
	}
	return out
}

// byIssuerOf returns the provider of an issuer, or nil.
func (ps *Providers) byIssuerOf(iss string) *provider {
	if ps == nil {
		return nil
	}
	return ps.byIssuer[iss]
}

// Configs returns the providers' configurations with defaults filled.
func (ps *Providers) Configs() []ProviderConfig {
	out := make([]ProviderConfig, 0, len(ps.order))
	for _, p := range ps.order {
		out = append(out, p.cfg)
	}
	return out
}

// signIn returns the provider a browser signs in with: the named one, or
// the only one that supports sign-in.
func (ps *Providers) signIn(name string) (*provider, error) {
	if name != "" {
		p := ps.byName[name]
		if p == nil || p.cfg.ClientID == "" || p.cfg.Type != TypeOIDC {
			return nil, fmt.Errorf("there is no identity provider %q to sign in with", name)
		}
		return p, nil
	}
	var found *provider
	for _, p := range ps.order {
		if p.cfg.ClientID != "" && p.cfg.Type == TypeOIDC {
			if found != nil {
				return nil, errors.New("several identity providers are configured: choose one with ?provider=<name>")
			}
			found = p
		}
	}
	if found == nil {
		return nil, errors.New("no identity provider is configured for browser sign-in")
	}
	return found, nil
}
