package audit

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Filter selects records. Empty fields match everything.
type Filter struct {
	// Tenant limits records to one tenant; queries through the API
	// always set it to the caller's.
	Tenant string `json:"tenant_id,omitempty"`
	// From and To bound the timestamp: From <= t < To.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Actions are the record action names (see ExpandActions).
	Actions    []string `json:"actions,omitempty"`
	Categories []string `json:"categories,omitempty"`
	Users      []string `json:"users,omitempty"`
	Outcomes   []string `json:"outcomes,omitempty"`
	Projects   []string `json:"projects,omitempty"`
	// ResourceType and ResourceID match the record's resource; the id
	// also matches the upstream job id.
	ResourceType string `json:"resource_type,omitempty"`
	ResourceID   string `json:"resource_id,omitempty"`
}

// Match reports whether a record passes the filter.
func (f *Filter) Match(r *Record) bool {
	return (f.Tenant == "" || r.TenantID == f.Tenant) &&
		(f.From.IsZero() || !r.Timestamp.Before(f.From)) &&
		(f.To.IsZero() || r.Timestamp.Before(f.To)) &&
		within(f.Actions, r.Action) && within(f.Categories, r.Category) && within(f.Users, r.UserID) &&
		within(f.Outcomes, r.Outcome) && within(f.Projects, r.Project) &&
		(f.ResourceType == "" || r.Resource.Type == f.ResourceType) &&
		(f.ResourceID == "" || r.Resource.ID == f.ResourceID || r.UpstreamJobID == f.ResourceID)
}

func within(set []string, v string) bool { return len(set) == 0 || slices.Contains(set, v) }

// ParseFilter reads a filter from query parameters: start_date and
// end_date (RFC 3339 times, or dates meaning the whole day in UTC),
// actions, users, outcomes, categories and projects (comma-separated or
// repeated), resource_type and resource_id. An inverted range, an unknown
// action, outcome or category is an error naming it.
func ParseFilter(v url.Values) (Filter, error) {
	var f Filter
	var err error
	if f.From, err = parseBound(v.Get("start_date"), false); err != nil {
		return f, fmt.Errorf("start_date: %w", err)
	}
	if f.To, err = parseBound(v.Get("end_date"), true); err != nil {
		return f, fmt.Errorf("end_date: %w", err)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, fmt.Errorf("the range is inverted or empty: start_date %s is not before end_date %s",
			f.From.Format(time.RFC3339), f.To.Format(time.RFC3339))
	}
	if f.Actions, err = ExpandActions(list(v, "actions")); err != nil {
		return f, err
	}
	f.Users, f.Projects = list(v, "users"), list(v, "projects")
	f.Outcomes, f.Categories = list(v, "outcomes"), list(v, "categories")
	for _, o := range f.Outcomes {
		if !slices.Contains(Outcomes, o) {
			return f, fmt.Errorf("unknown outcome %q: use one of %s", o, strings.Join(Outcomes, ", "))
		}
	}
	for _, c := range f.Categories {
		if !slices.Contains(Categories, c) {
			return f, fmt.Errorf("unknown category %q: use one of %s", c, strings.Join(Categories, ", "))
		}
	}
	f.ResourceType, f.ResourceID = v.Get("resource_type"), v.Get("resource_id")
	return f, nil
}

// parseBound reads an RFC 3339 time or a date; a date as an end bound
// means the end of that day, so end_date=2026-01-31 includes the 31st.
func parseBound(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a date (YYYY-MM-DD)", s)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// list reads a comma-separated or repeated parameter.
func list(v url.Values, name string) []string {
	var out []string
	for _, s := range v[name] {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// Page is one page of a query's answer, oldest record first.
type Page struct {
	Logs []Record `json:"logs"`
	// NextPageToken continues the query; empty on the last page.
	NextPageToken string `json:"next_page_token,omitempty"`
}

// Source answers queries over a trail.
type Source interface {
	// Query returns up to size records matching f after the position
	// token names ("" for the start).
	Query(ctx context.Context, f Filter, token string, size int) (Page, error)
}

// Page sizes.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// PageSize reads page_size: default DefaultPageSize, at most MaxPageSize.
func PageSize(s string) (int, error) {
	if s == "" {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxPageSize {
		return 0, fmt.Errorf("page_size must be an integer from 1 to %d", MaxPageSize)
	}
	return n, nil
}
