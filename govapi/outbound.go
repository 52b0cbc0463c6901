package govapi

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/policy"
)

// Outbound is what objects created through the governance API may name
// of the outside world: credentials the operator declared in
// configuration, by name, and hosts the operator allows. Nothing such an
// object names can make the gateway resolve a secret or send a request
// to a host the operator did not list.
type Outbound struct {
	// Credentials maps each credential declared in configuration to the
	// tenants whose API-created instances may use it ("*": every
	// tenant); a credential bound to no tenant serves configuration only.
	Credentials map[string][]string
	// Channels maps each notification channel to the tenants whose
	// API-created policies, workflows and settings may name it, likewise.
	Channels map[string][]string
	// Origins are the origins (scheme://host:port) API-created instances
	// may name as their upstream and IAM URL.
	Origins []string
}

// Origin returns a URL's origin, scheme://host:port with the scheme's
// port filled in and the host in lower case without a trailing dot; ""
// for a URL that is not http or https or names a user.
func Origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), port)
}

// Allows reports whether a URL's origin is one of the allowed origins.
func (o Outbound) Allows(raw string) bool {
	origin := Origin(raw)
	return origin != "" && slices.Contains(o.Origins, origin)
}

// checkInstance checks an instance created or changed through the API:
// it names a credential bound to its tenant, never a key or a
// placeholder, and only allowed hosts.
func (a *API) checkInstance(tenant, name string, spec []byte) *denial.Denial {
	var in org.Instance
	if err := json.Unmarshal(spec, &in); err != nil {
		return denial.Newf("invalid_object", "instance %q: %v", name, err)
	}
	if in.APIKey != "" {
		return denial.Newf("secret_not_allowed",
			"instance %q: an instance created through the API names a credential the operator declared in configuration (\"credential\": \"<name>\"), never an API key or a placeholder", name)
	}
	bound, declared := a.Outbound.Credentials[in.Credential]
	switch {
	case in.Credential == "":
		return denial.Newf("invalid_object", "instance %q: credential is required: the name of a credential declared in configuration", name)
	case !declared || !boundTo(bound, tenant):
		return denial.New("credential_not_allowed", fmt.Sprintf(
			"instance %q: credential %q is not declared for tenant %s's instances (rule: the credential's tenants in configuration)", name, in.Credential, tenant))
	}
	for field, raw := range map[string]string{"upstream": in.Upstream, "iam_url": cmp.Or(in.IAMURL, org.DefaultIAMURL)} {
		if !a.Outbound.Allows(raw) {
			return denial.New("host_not_allowed", fmt.Sprintf(
				"instance %q: %s %q names an origin the gateway may not send to (rule: outbound_hosts; allowed: %s)", name, field, raw, strings.Join(a.Outbound.Origins, ", ")))
		}
	}
	return nil
}

// checkChannels checks that a policy, workflow or tenant's settings
// created or changed through the API names only notification channels
// declared for its tenant.
func (a *API) checkChannels(kind, tenant, name string, spec []byte) *denial.Denial {
	var names []string
	switch kind {
	case "policies":
		var p policy.Policy
		_ = json.Unmarshal(spec, &p) // decoded strictly by the change
		for _, t := range p.Notify {
			if t.Channel != "" {
				names = append(names, t.Channel)
			}
		}
	case "workflows":
		var w policy.Workflow
		_ = json.Unmarshal(spec, &w)
		for _, n := range w.Notify {
			if n != policy.NotifySubmitter && n != policy.NotifyApprovers {
				names = append(names, n)
			}
		}
	case "tenants":
		var t org.TenantSettings
		_ = json.Unmarshal(spec, &t)
		names = t.NotificationChannels
	}
	for _, ch := range names {
		if bound, ok := a.Outbound.Channels[ch]; ok && !boundTo(bound, tenant) {
			return denial.New("channel_not_allowed", fmt.Sprintf(
				"%s %q names notification channel %q, which is not declared for tenant %s (rule: the channel's tenants in configuration)", strings.TrimSuffix(kind, "s"), name, ch, tenant))
		}
	}
	return nil
}

// boundTo reports whether a credential or channel declared for tenants
// ("*": every tenant) serves tenant.
func boundTo(tenants []string, tenant string) bool {
	return slices.ContainsFunc(tenants, func(t string) bool { return t == "*" || t == tenant })
}
