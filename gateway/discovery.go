package gateway

import (
	"github.com/qgov/qgov/audit"

	"net/http"
	"strings"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/discovery"
)

// serveDiscovery answers Global Search with the instances the caller's
// projects may use, and Global Catalog with their plans.
func (g *Gateway) serveDiscovery(w http.ResponseWriter, r *http.Request, d Decision) Decision {
	p, err := g.Auth.Authenticate(r)
	d.Action = audit.ActionDiscovery
	if err != nil {
		return Deny(w, d, err)
	}
	d.Identify(p)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/global-search/v3/resources/search":
		var visible []discovery.Instance
		for _, in := range g.Directory.Load().Access(p.Member(), g.Now()).Instances() {
			visible = append(visible, discovery.Instance{CRN: in.CRN, Name: in.Alias, Plan: in.Plan, Backends: in.Backends})
		}
		discovery.ServeSearch(w, r, visible)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/global-catalog/api/v1/"):
		discovery.ServeCatalog(w, strings.TrimPrefix(r.URL.Path, "/global-catalog/api/v1/"))
	default:
		return Deny(w, d, denial.New("not_found", "no route for "+r.Method+" "+r.URL.Path))
	}
	d.Outcome = "allowed"
	return d
}
