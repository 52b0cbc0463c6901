package audit

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/qgov/qgov/internal/csvsafe"
)

// csvColumns are the columns WriteCSV writes.
var csvColumns = []string{"timestamp", "audit_id", "tenant_id", "user_id", "key_id", "category", "action", "outcome", "status", "code",
	"project", "instance", "resource_type", "resource_id", "upstream_job_id", "rule_ids", "reasons", "note", "ip_address", "trace_id"}

// WriteCSV writes records as CSV with a header row: one line per record,
// lists joined with "; ". Cells that a spreadsheet would read as a
// formula are prefixed with a quote.
func WriteCSV(w io.Writer, recs []Record) error {
	cw := csvsafe.NewWriter(w)
	if err := cw.Write(csvColumns...); err != nil {
		return err
	}
	for i := range recs {
		r := &recs[i]
		status := ""
		if r.Status != 0 {
			status = strconv.Itoa(r.Status)
		}
		row := []string{r.Timestamp.UTC().Format(time.RFC3339Nano), r.AuditID, r.TenantID, r.UserID, r.KeyID, r.Category, r.Action,
			r.Outcome, status, r.Code, r.Project, r.Instance, r.Resource.Type, r.Resource.ID, r.UpstreamJobID,
			strings.Join(r.RuleIDs, "; "), strings.Join(r.Reasons, "; "), r.Note, r.IPAddress, r.TraceID}
		if err := cw.Write(row...); err != nil {
			return err
		}
	}
	return cw.Flush()
}
