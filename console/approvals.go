package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/qgov/qgov/govapi"
	"github.com/qgov/qgov/ibm/runtimeapi"
)

// approvals shows the held jobs the caller may decide or submitted.
func (c *Console) approvals(v *visit, _ string) {
	var list struct {
		Approvals []govapi.ApprovalView `json:"approvals"`
	}
	data := map[string]any{}
	if err := v.get("/governance/v1/approvals", &list); err != nil {
		data["Error"] = err
	}
	var mine, theirs []govapi.ApprovalView
	for _, h := range list.Approvals {
		if h.MayDecide {
			mine = append(mine, h)
		} else {
			theirs = append(theirs, h)
		}
	}
	data["Decide"], data["Waiting"] = mine, theirs
	c.render(v, "approvals", data)
}

// approval shows one held job, and once it is released the job's state
// upstream, refreshed until it ends.
func (c *Console) approval(v *visit, id string) {
	var h govapi.ApprovalView
	if err := v.get("/governance/v1/approvals/"+url.PathEscape(id), &h); err != nil {
		v.status = err.Status
		c.render(v, "error", err)
		return
	}
	data := map[string]any{"Hold": h}
	if h.Fate != nil && h.Fate.Fate == "released" {
		var job runtimeapi.Job
		if err := c.callJob(v, h.Instance, id, &job); err != nil {
			data["JobError"] = err
		} else {
			data["Job"] = job
			data["Refresh"] = !isFinal(job.Status)
		}
	}
	c.render(v, "approval", data)
}

// isFinal reports whether a job status is an end state.
func isFinal(status string) bool {
	switch strings.ToLower(status) {
	case "completed", "failed", "cancelled", "canceled":
		return true
	}
	return false
}

// callJob reads a job through the Runtime API on its instance.
func (c *Console) callJob(v *visit, instance, id string, out any) *apiError {
	return c.call(v.r, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(id), http.Header{"Service-Crn": {instance}}, nil, out)
}

// decide approves or rejects a held job.
func (c *Console) decide(v *visit, id string) {
	decision := v.r.PostForm.Get("decision")
	body := map[string]string{"decision": decision, "comment": strings.TrimSpace(v.r.PostForm.Get("comment"))}
	err := v.send(http.MethodPost, "/governance/v1/approvals/"+url.PathEscape(id), body, nil)
	did := map[string]string{"approve": "Approved", "reject": "Rejected"}[decision] + " job " + id
	v.done(Prefix+"/approvals/"+url.PathEscape(id), did, "Deciding job "+id, err)
}
