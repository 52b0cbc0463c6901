package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/rbac"
)

// control is a named control and how the trail evidences it.
type control struct {
	id, title string
	// evidence selects the records that evidence the control.
	evidence func(*audit.Record) bool
	// note adds what the records do not say (grants, trail integrity).
	note func(*Input) string
}

var (
	isDenial    = func(r *audit.Record) bool { return r.Outcome == audit.Denied }
	isAuthn     = func(r *audit.Record) bool { return r.Category == audit.CategoryAuth }
	isAuthnFail = func(r *audit.Record) bool { return r.Category == audit.CategoryAuth && r.Outcome == audit.Denied }
	isKeyOrSess = func(r *audit.Record) bool {
		return r.Category == audit.CategoryKey || r.Category == audit.CategorySession
	}
	isChange     = func(r *audit.Record) bool { return r.Action == audit.ActionConfigLoad }
	isAccessEdit = func(r *audit.Record) bool {
		return isChange(r) && (r.Resource.Type == "access_group" || r.Resource.Type == "assignment" || r.Resource.Type == "role")
	}
	isNetwork  = func(r *audit.Record) bool { return r.Code == "ip_not_allowed" || strings.Contains(r.Note, "allowlist") }
	isApproval = func(r *audit.Record) bool { return r.Category == audit.CategoryApproval }
	anyRecord  = func(*audit.Record) bool { return true }
)

func grantsNote(in *Input) string {
	n, admins := 0, 0
	for _, u := range in.Users {
		for _, g := range u.Grants {
			n++
			if g.Role == rbac.Admin {
				admins++
			}
		}
	}
	return fmt.Sprintf("%d role grants to %d named users (%d admin); see access_review", n, len(in.Users), admins)
}

func trailNote(in *Input) string {
	v := in.Trail
	switch {
	case v == nil:
		return "trail integrity not checked in this report"
	case v.OK():
		return fmt.Sprintf("hash chain verified: %d records in %d files, seq %d to %d, no problems", v.Records, v.Files, v.First, v.Last)
	}
	return fmt.Sprintf("hash chain BROKEN: %d problems, first: %s", len(v.Problems), v.Problems[0])
}

var soc2Controls = []control{
	{"CC6.1", "Logical access: access is granted through roles and enforced on every request", isDenial, grantsNote},
	{"CC6.2", "User registration and authorisation: sign-ins, token exchanges", isAuthn, nil},
	{"CC6.3", "Role changes and removal of access", isAccessEdit, nil},
	{"CC6.6", "Access from outside trusted networks", isNetwork, nil},
	{"CC6.7", "Credential lifecycle: API keys and sessions created, rotated, revoked, ended", isKeyOrSess, nil},
	{"CC7.2", "Monitoring for anomalies: denials and security events", isSecurity, nil},
	{"CC7.3", "Evaluation of events: approvals of held work", isApproval, nil},
	{"CC8.1", "Change management: every configuration change with before and after", isChange, nil},
	{"CC4.1", "Monitoring of controls: a complete, tamper-evident audit trail", anyRecord, trailNote},
}

var isoControls = []control{
	{"A.5.15", "Access control", isDenial, grantsNote},
	{"A.5.16", "Identity management", isAuthn, nil},
	{"A.5.18", "Access rights: provisioning, review and removal", isAccessEdit, grantsNote},
	{"A.8.2", "Privileged access rights", func(r *audit.Record) bool { return isAccessEdit(r) || r.TargetUserID != "" }, nil},
	{"A.8.5", "Secure authentication: failed sign-ins and token exchanges", isAuthnFail, nil},
	{"A.8.15", "Logging", anyRecord, trailNote},
	{"A.8.16", "Monitoring activities", isSecurity, nil},
	{"A.8.32", "Change management", isChange, nil},
}

func soc2(in *Input, r *Report) { evidence(in, r, "SOC 2 Type II evidence", soc2Controls) }

func iso27001(in *Input, r *Report) {
	evidence(in, r, "ISO/IEC 27001:2022 Annex A evidence", isoControls)
}

// evidence maps each control to the records that evidence it, with a few
// audit ids to look up, and appends the security events.
func evidence(in *Input, r *Report, title string, controls []control) {
	r.Title = title
	t := Table{Title: "Controls and their evidence", Columns: []string{"control", "description", "records", "evidence", "examples"}}
	covered := 0
	for _, c := range controls {
		n := 0
		var examples []string
		for i := range in.Records {
			if c.evidence(&in.Records[i]) {
				n++
				if len(examples) < 2 {
					examples = append(examples, in.Records[i].AuditID)
				}
			}
		}
		detail := strconv.Itoa(n) + " records in the period"
		if c.note != nil {
			detail += "; " + c.note(in)
		}
		if n > 0 {
			covered++
		}
		t.Rows = append(t.Rows, []string{c.id, c.title, strconv.Itoa(n), detail, strings.Join(examples, " ")})
	}
	r.Facts = []Fact{{"Controls", strconv.Itoa(len(controls))}, {"With evidence in period", strconv.Itoa(covered)},
		{"Records in period", strconv.Itoa(len(in.Records))}, {"Trail", trailNote(in)}}
	r.Tables = append(r.Tables, t)
	sec := &Report{}
	securityEvents(in, sec)
	r.Chart = sec.Chart
	r.Tables = append(r.Tables, sec.Tables...)
}
