package simulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/qgov/qgov/runtimeapi"
)

// plan is a service plan as the Global Catalog describes it.
type plan struct {
	display string
	pricing string
}

var plans = map[string]plan{
	"standard": {"Standard", "Paid"},
	"premium":  {"Premium", "Subscription"},
	"flex":     {"Flex", "Paygo"},
	"paygo":    {"Pay-As-You-Go", "Paygo"},
	"open":     {"Open", "Free"},
}

// planID is the catalog id of a plan.
func planID(name string) string { return "qgov-plan-" + name }

// handleSearch serves Global Search: the instances the caller's key may
// use, as items with crn, name, plan id, tags and a non-empty
// doc.extensions (the client drops items without one).
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request, id identity) {
	var body struct {
		Query        string `json:"query"`
		SearchCursor string `json:"search_cursor"`
	}
	raw, err := readBody(r)
	if err != nil {
		fail(w, err)
		return
	}
	if len(raw) > 0 {
		if err := runtimeapi.DecodeJSON(raw, &body); err != nil {
			fail(w, err)
			return
		}
	}
	limit := 10
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			fail(w, runtimeapi.BadRequest("invalid_limit", "limit must be 1 to 1000, got %q", v))
			return
		}
		limit = n
	}
	offset := 0
	if body.SearchCursor != "" {
		dec, err := base64.RawURLEncoding.DecodeString(body.SearchCursor)
		n, convErr := strconv.Atoi(string(dec))
		if err != nil || convErr != nil || n < 0 {
			fail(w, runtimeapi.BadRequest("invalid_cursor", "search_cursor is not valid"))
			return
		}
		offset = n
	}
	var matches []*instance
	for _, in := range s.instances {
		if in.keys[id.KeyID] && (body.Query == "" || strings.Contains(body.Query, "quantum-computing")) {
			matches = append(matches, in)
		}
	}
	items := []map[string]any{}
	for i := offset; i < len(matches) && i < offset+limit; i++ {
		in := matches[i]
		items = append(items, map[string]any{
			"crn":                    in.CRN,
			"name":                   in.Name,
			"service_plan_unique_id": planID(in.Plan),
			"tags":                   []string{},
			"doc":                    map[string]any{"extensions": map[string]any{"quantum_computing": map[string]any{"backends": s.instanceBackends(in)}}},
		})
	}
	answer := map[string]any{"items": items, "limit": limit}
	if offset+limit < len(matches) {
		answer["search_cursor"] = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset + limit)))
	}
	runtimeapi.WriteJSON(w, http.StatusOK, answer)
}

// handleCatalog serves Global Catalog entries of the plans.
func (s *Server) handleCatalog(w http.ResponseWriter, r *http.Request, _ identity) {
	id := r.PathValue("id")
	name, ok := strings.CutPrefix(id, "qgov-plan-")
	p, known := plans[name]
	if !ok || !known {
		fail(w, runtimeapi.Errorf(http.StatusNotFound, "not_found", fmt.Sprintf("catalog entry %q not found", id)))
		return
	}
	runtimeapi.WriteJSON(w, http.StatusOK, map[string]any{
		"id": id, "name": name, "kind": "plan",
		"overview_ui": map[string]any{"en": map[string]any{"display_name": p.display, "description": p.display + " plan"}},
		"metadata":    map[string]any{"pricing": map[string]any{"type": p.pricing}},
	})
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
