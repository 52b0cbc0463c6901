package report

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/org"
)

// isJob reports whether a record is a job submission.
func isJob(r *audit.Record) bool { return r.Action == string(runtimeapi.ActionJobCreate) }

func jobSummary(in *Input, r *Report) {
	r.Title = "Job summary"
	labels, index := buckets(in.Period)
	series := map[string][]float64{}
	var byProject, byBackend, byUser counter
	outcomes := map[string]map[string]float64{}
	total := 0
	for i := range in.Records {
		rec := &in.Records[i]
		if !isJob(rec) {
			continue
		}
		total++
		if series[rec.Outcome] == nil {
			series[rec.Outcome] = make([]float64, len(labels))
		}
		series[rec.Outcome][index(rec.Timestamp)]++
		byProject.add(rec.Project, 1)
		if outcomes[rec.Project] == nil {
			outcomes[rec.Project] = map[string]float64{}
		}
		outcomes[rec.Project][rec.Outcome]++
		if rec.Request != nil && rec.Outcome == audit.Success {
			byBackend.add(rec.Request.Backend, 1)
		}
		byUser.add(rec.UserID, 1)
	}
	r.Facts = []Fact{{"Job submissions", strconv.Itoa(total)}, {"Projects", strconv.Itoa(len(byProject.keys))}, {"Users", strconv.Itoa(len(byUser.keys))}}
	r.Chart = &Chart{Title: "Job submissions by outcome", Unit: "jobs", Labels: labels}
	for _, o := range audit.Outcomes {
		if series[o] != nil {
			r.Chart.Series = append(r.Chart.Series, Series{Name: o, Values: series[o]})
		}
	}
	projects := Table{Title: "Submissions by project", Columns: []string{"project", "submitted", "success", "denied", "held", "failure"}}
	for _, p := range byProject.sorted() {
		o := outcomes[p]
		projects.Rows = append(projects.Rows, []string{p, num(byProject.n[p]), num(o[audit.Success]), num(o[audit.Denied]), num(o[audit.Held]), num(o[audit.Failure])})
	}
	r.Tables = append(r.Tables, projects, countTable("Jobs run by backend", "backend", &byBackend), countTable("Submissions by user", "user", &byUser))
}

func countTable(title, what string, c *counter) Table {
	t := Table{Title: title, Columns: []string{what, "count"}}
	for _, k := range c.sorted() {
		t.Rows = append(t.Rows, []string{k, num(c.n[k])})
	}
	return t
}

func budgetUsage(in *Input, r *Report) {
	r.Title = "Budget usage"
	labels, index := buckets(in.Period)
	perProject := map[string][]float64{}
	var jobs, estimated, actual, seconds counter
	alerts := Table{Title: "Budget alerts", Columns: []string{"time", "project", "action", "detail"}}
	// a job's actual cost replaces its estimate once reconciled
	reconciled := map[string]bool{}
	for i := range in.Records {
		if rec := &in.Records[i]; rec.Action == audit.ActionJobUsage && rec.UpstreamJobID != "" {
			reconciled[rec.UpstreamJobID] = true
		}
	}
	spend := 0.0
	for i := range in.Records {
		rec := &in.Records[i]
		switch {
		case rec.Category == audit.CategoryBudget && rec.Action != audit.ActionJobUsage:
			alerts.Rows = append(alerts.Rows, []string{when(rec.Timestamp), rec.Project, rec.Action, strings.Join(rec.Reasons, "; ")})
			continue
		case rec.Outcome != audit.Success || (!isJob(rec) && rec.Action != audit.ActionJobUsage):
			continue
		}
		cost := rec.Cost()
		if isJob(rec) {
			jobs.add(rec.Project, 1)
			estimated.add(rec.Project, rec.Request.EstimatedCostUSD)
			if reconciled[rec.UpstreamJobID] {
				cost = 0
			}
		} else {
			actual.add(rec.Project, rec.Request.CostUSD)
			seconds.add(rec.Project, rec.Request.QuantumSeconds)
		}
		if perProject[rec.Project] == nil {
			perProject[rec.Project] = make([]float64, len(labels))
		}
		perProject[rec.Project][index(rec.Timestamp)] += cost
		spend += cost
	}
	r.Facts = []Fact{{"Spend in period", usd(spend)}, {"Jobs", num(sum(&jobs))}, {"Budget alerts", strconv.Itoa(len(alerts.Rows))}}
	r.Chart = &Chart{Title: "Spend by project", Unit: "USD", Labels: labels}
	table := Table{Title: "Spend by project", Columns: []string{"project", "jobs", "estimated", "actual", "quantum seconds"}}
	names := slices.Sorted(maps.Keys(perProject))
	for _, p := range names {
		r.Chart.Series = append(r.Chart.Series, Series{Name: p, Values: perProject[p]})
		table.Rows = append(table.Rows, []string{p, num(jobs.n[p]), usd(estimated.n[p]), usd(actual.n[p]), num(seconds.n[p])})
	}
	if len(names) == 0 {
		table.Empty = "no spend recorded in " + in.Period.Name + ": simulator jobs are free, and costs are recorded once estimated or reconciled"
	}
	r.Tables = append(r.Tables, table, alerts)
}

func sum(c *counter) float64 {
	t := 0.0
	for _, v := range c.n {
		t += v
	}
	return t
}

// isSecurity reports whether a record is a security event: a denial, a
// failed sign-in or token exchange, a key or session change, an audited
// exception, a configuration change or a trail recovery.
func isSecurity(r *audit.Record) bool {
	switch {
	case r.Outcome == audit.Denied, r.Note != "":
		return true
	case r.Action == audit.ActionKeyCreate, r.Action == audit.ActionKeyRotate, r.Action == audit.ActionKeyRevoke,
		r.Action == audit.ActionSessionEnd, r.Action == audit.ActionSessionsEnd:
		return r.Outcome == audit.Success
	case r.Category == audit.CategoryAdmin && r.Action == audit.ActionConfigLoad, r.Category == audit.CategorySystem, r.Category == audit.CategoryPolicy:
		return true
	}
	return false
}

// maxEvents bounds the event list of a report; the counts cover all.
const maxEvents = 500

func securityEvents(in *Input, r *Report) {
	r.Title = "Security events"
	var byCode, byUser, byIP counter
	events := Table{Title: "Events", Columns: []string{"time", "user", "action", "outcome", "code", "ip", "detail"}}
	labels, index := buckets(in.Period)
	denials := make([]float64, len(labels))
	n := 0
	for i := range in.Records {
		rec := &in.Records[i]
		if !isSecurity(rec) {
			continue
		}
		n++
		code := rec.Code
		if code == "" {
			code = rec.Action
		}
		byCode.add(code, 1)
		if rec.Outcome == audit.Denied {
			denials[index(rec.Timestamp)]++
			byUser.add(cmp.Or(rec.UserID, "(unauthenticated)"), 1)
			byIP.add(cmp.Or(rec.IPAddress, "(unknown)"), 1)
		}
		if len(events.Rows) < maxEvents {
			events.Rows = append(events.Rows, []string{when(rec.Timestamp), rec.UserID, rec.Action, rec.Outcome, rec.Code, rec.IPAddress,
				cmp.Or(strings.Join(rec.Reasons, "; "), rec.Note)})
		}
	}
	if n > maxEvents {
		events.Title = fmt.Sprintf("Events (first %d of %d)", maxEvents, n)
	}
	r.Facts = []Fact{{"Security events", strconv.Itoa(n)}, {"Denials", num(sum(&byUser))}}
	r.Chart = &Chart{Title: "Denials per period", Unit: "denials", Labels: labels, Series: []Series{{Name: "denied", Values: denials}}}
	r.Tables = append(r.Tables, countTable("Events by code or action", "code", &byCode),
		countTable("Denials by user", "user", &byUser), countTable("Denials by client address", "ip", &byIP), events)
}

// dormantAfter is how long an unused key counts as dormant.
const dormantAfter = 90 * 24 * time.Hour

// expiringWithin is how soon an expiring grant is listed.
const expiringWithin = 30 * 24 * time.Hour

func accessReview(in *Input, r *Report) {
	r.Title = "Access review"
	last := map[string]time.Time{}
	for i := range in.Records {
		rec := &in.Records[i]
		if rec.UserID != "" && rec.Timestamp.After(last[rec.UserID]) {
			last[rec.UserID] = rec.Timestamp
		}
	}
	grants := Table{Title: "Who holds which role where, and why", Columns: []string{"user", "project", "role", "through", "expires", "last activity"}}
	expiring := Table{Title: "Grants expiring within 30 days", Columns: []string{"user", "project", "role", "expires"}}
	for _, u := range in.Users {
		for _, g := range u.Grants {
			if in.Projects != nil && !slices.Contains(in.Projects, g.Project) {
				continue
			}
			exp := ""
			if !g.Expires.IsZero() {
				exp = when(g.Expires)
				if g.Expires.Sub(in.Now) < expiringWithin {
					expiring.Rows = append(expiring.Rows, []string{u.User, g.Project, g.Role, exp})
				}
			}
			grants.Rows = append(grants.Rows, []string{u.User, g.Project, g.Role, g.Via, exp, when(last[u.User])})
		}
	}
	rules := Table{Title: "Dynamic rules: roles given by identity-provider claims", Columns: []string{"access group", "rule", "projects", "roles"}}
	for _, g := range in.Groups {
		if org.Tenant(g.Tenant) != in.Tenant {
			continue
		}
		for _, rule := range g.Rules {
			rules.Rows = append(rules.Rows, []string{g.Name, rule.String(), strings.Join(g.Projects, ", "), strings.Join(g.Roles, ", ")})
		}
	}
	dormant := Table{Title: "Dormant API keys (unused for 90 days)", Columns: []string{"key", "owner", "kind", "created", "last used", "expires"}}
	for _, k := range in.Keys {
		used := k.LastUsed
		if t := lastKeyUse(in.Records, k.ID); t.After(used) {
			used = t
		}
		// a key is dormant once it is old enough and has not been used
		// for as long (never used counts as long ago)
		if in.Now.Sub(k.Created) >= dormantAfter && in.Now.Sub(used) >= dormantAfter {
			dormant.Rows = append(dormant.Rows, []string{k.ID, k.Owner, k.Kind, when(k.Created), when(used), when(k.Expires)})
		}
	}
	active := 0
	for _, u := range in.Users {
		if !last[u.User].IsZero() {
			active++
		}
	}
	r.Facts = []Fact{{"Users named", strconv.Itoa(len(in.Users))}, {"Active in period", strconv.Itoa(active)},
		{"Role grants", strconv.Itoa(len(grants.Rows))}, {"Expiring soon", strconv.Itoa(len(expiring.Rows))}, {"Dormant keys", strconv.Itoa(len(dormant.Rows))}}
	r.Tables = append(r.Tables, grants, rules, expiring, dormant)
}

// lastKeyUse is the last time the trail saw a key.
func lastKeyUse(recs []audit.Record, id string) time.Time {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].KeyID == id {
			return recs[i].Timestamp
		}
	}
	return time.Time{}
}
