package console

import (
	"maps"
	"net/url"

	"github.com/qgov/qgov/audit"
)

// auditFilters are the query parameters of GET /governance/v1/audit/logs
// the console's search form offers.
var auditFilters = []string{"start_date", "end_date", "users", "actions", "outcomes", "categories", "projects", "resource_type", "resource_id"}

// audit searches the trail with the API's filters and shows whether the
// trail verifies.
func (c *Console) audit(v *visit, _ string) {
	in := v.r.URL.Query()
	q := url.Values{}
	for _, f := range auditFilters {
		if s := in.Get(f); s != "" {
			q.Set(f, s)
		}
	}
	data := map[string]any{"Query": in, "CSV": "/governance/v1/audit/logs?" + withFormat(q, "csv")}
	page := q
	page.Set("page_size", "50")
	if t := in.Get("page_token"); t != "" {
		page.Set("page_token", t)
	}
	var logs struct {
		Logs []audit.Record `json:"logs"`
		Next string         `json:"next_page_token"`
	}
	if err := v.get("/governance/v1/audit/logs?"+page.Encode(), &logs); err != nil {
		data["Error"] = err
	} else {
		data["Logs"] = logs.Logs
		if logs.Next != "" {
			next := url.Values{}
			for _, f := range auditFilters {
				if s := in.Get(f); s != "" {
					next.Set(f, s)
				}
			}
			next.Set("page_token", logs.Next)
			data["Next"] = Prefix + "/audit?" + next.Encode()
		}
	}
	var verify struct {
		OK           bool               `json:"ok"`
		Verification audit.Verification `json:"verification"`
	}
	if err := v.get("/governance/v1/audit/verify", &verify); err != nil {
		data["VerifyError"] = err
	} else {
		data["Verified"], data["Verification"] = verify.OK, verify.Verification
	}
	c.render(v, "audit", data)
}

// withFormat returns the query with a format added, encoded.
func withFormat(q url.Values, format string) string {
	out := url.Values{"format": {format}}
	maps.Copy(out, q)
	return out.Encode()
}
