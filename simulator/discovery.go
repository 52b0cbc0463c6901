package simulator

import (
	"net/http"

	"github.com/qgov/qgov/ibm/discovery"
)

// handleSearch serves Global Search: the instances the caller's key may use.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request, id identity) {
	var visible []discovery.Instance
	for _, in := range s.instances {
		if in.keys[id.KeyID] {
			visible = append(visible, discovery.Instance{CRN: in.CRN, Name: in.Name, Plan: in.Plan, Backends: s.instanceBackends(in)})
		}
	}
	discovery.ServeSearch(w, r, visible)
}

// handleCatalog serves Global Catalog entries of the plans.
func (s *Server) handleCatalog(w http.ResponseWriter, r *http.Request, _ identity) {
	discovery.ServeCatalog(w, r.PathValue("id"))
}

// instanceBackends lists the backends an instance may use.
func (s *Server) instanceBackends(in *instance) []string {
	var names []string
	for _, b := range s.backends {
		if in.backends == nil || in.backends[b.Name] {
			names = append(names, b.Name)
		}
	}
	return names
}
