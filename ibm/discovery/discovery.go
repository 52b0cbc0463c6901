// Package discovery serves the two IBM Cloud platform services the Qiskit
// client calls to discover instances: Global Search (the instances a
// caller may use) and Global Catalog (their plans).
package discovery

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/ibm/runtimeapi"
)

// Instance is a service instance as Global Search lists it.
type Instance struct {
	CRN  string
	Name string
	// Plan is a plan name known to the catalog (see Plans).
	Plan string
	// Backends the instance may use, published in doc.extensions.
	Backends []string
}

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

// KnownPlan reports whether the catalog describes a plan name.
func KnownPlan(name string) bool { _, ok := plans[name]; return ok }

// Plans lists the plan names the catalog describes.
const Plans = "standard, premium, flex, paygo, open"

// PlanID is the catalog id of a plan.
func PlanID(name string) string { return "qgov-plan-" + name }

const maxSearchBody = 64 << 10

// ServeSearch serves POST /v3/resources/search over instances: items with
// crn, name, plan id, tags and a non-empty doc.extensions (the client drops
// items without one), paged by limit and search_cursor.
func ServeSearch(w http.ResponseWriter, r *http.Request, instances []Instance) {
	var body struct {
		Query        string `json:"query"`
		SearchCursor string `json:"search_cursor"`
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSearchBody))
	if err != nil {
		fail(w, denial.Newf("invalid_body", "reading the search body: %v", err))
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
			fail(w, denial.Newf("invalid_limit", "limit must be 1 to 1000, got %q", v))
			return
		}
		limit = n
	}
	offset := 0
	if body.SearchCursor != "" {
		dec, err := base64.RawURLEncoding.DecodeString(body.SearchCursor)
		n, convErr := strconv.Atoi(string(dec))
		if err != nil || convErr != nil || n < 0 {
			fail(w, denial.Newf("invalid_cursor", "search_cursor is not valid"))
			return
		}
		offset = n
	}
	var matches []Instance
	for _, in := range instances {
		if body.Query == "" || strings.Contains(body.Query, "quantum-computing") {
			matches = append(matches, in)
		}
	}
	items := []map[string]any{}
	for i := offset; i < len(matches) && i < offset+limit; i++ {
		in := matches[i]
		backends := in.Backends
		if backends == nil {
			backends = []string{}
		}
		items = append(items, map[string]any{
			"crn":                    in.CRN,
			"name":                   in.Name,
			"service_plan_unique_id": PlanID(in.Plan),
			"tags":                   []string{},
			"doc":                    map[string]any{"extensions": map[string]any{"quantum_computing": map[string]any{"backends": backends}}},
		})
	}
	answer := map[string]any{"items": items, "limit": limit}
	if offset+limit < len(matches) {
		answer["search_cursor"] = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset + limit)))
	}
	runtimeapi.WriteJSON(w, http.StatusOK, answer)
}

// ServeCatalog serves GET /api/v1/{id} of the Global Catalog for plan ids.
func ServeCatalog(w http.ResponseWriter, id string) {
	name, ok := strings.CutPrefix(id, "qgov-plan-")
	p, known := plans[name]
	if !ok || !known {
		fail(w, denial.New("not_found", fmt.Sprintf("catalog entry %q not found", id)))
		return
	}
	runtimeapi.WriteJSON(w, http.StatusOK, map[string]any{
		"id": id, "name": name, "kind": "plan",
		"overview_ui": map[string]any{"en": map[string]any{"display_name": p.display, "description": p.display + " plan"}},
		"metadata":    map[string]any{"pricing": map[string]any{"type": p.pricing}},
	})
}

func fail(w http.ResponseWriter, e *denial.Denial) {
	runtimeapi.WriteDenial(w, e, runtimeapi.NewTrace())
}
