package identity

import (
	"fmt"
	"net/netip"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/org"
)

// CheckAddress applies the tenant's IP allowlist and the API key's
// allowed ranges to the client address, which the caller must take from
// the server's trusted-proxy handling, never from forwarding headers. A
// key's ranges are always enforced; the tenant's in its mode: in audit
// mode a request from outside passes and note says so for the audit
// trail.
func (a *Authenticator) CheckAddress(p *Principal, client netip.Addr) (note string, denied *denial.Denial) {
	if !org.AddrAllowed(p.AllowedIPs, client) {
		return "", denial.New("ip_not_allowed",
			fmt.Sprintf("API key %s may not be used from %s (rule: the key's allowed_ips)", p.KeyID, client))
	}
	t := a.Directory.Load().Settings(p.Tenant)
	if org.AddrAllowed(t.Allowlist(), client) {
		return "", nil
	}
	if t.IPMode == org.IPAudit {
		return fmt.Sprintf("ip_not_allowed (audit): %s is outside tenant %s's ip_allowlist", client, p.Tenant), nil
	}
	return "", denial.New("ip_not_allowed",
		fmt.Sprintf("tenant %s does not allow requests from %s (rule: the tenant's ip_allowlist)", p.Tenant, client))
}
