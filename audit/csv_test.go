package audit

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteCSV(t *testing.T) {
	at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	recs := []Record{
		{Timestamp: at, AuditID: "a-1", TenantID: "default", UserID: "fatima", Category: CategoryRequest, Action: "quantum-computing.job.create",
			Outcome: Held, Status: 200, Project: "ml", Resource: Resource{Type: "quantum_job", ID: "j1"}, RuleIDs: []string{"workflow/w", "policy/p"}},
		{Timestamp: at, AuditID: "a-2", UserID: "=HYPERLINK(\"x\")", Action: "iam.token", Outcome: Denied, Reasons: []string{"bad key", "again"}},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteCSV(&buf, recs))
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	col := func(name string) int {
		for i, c := range rows[0] {
			if c == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	for _, tc := range []struct {
		row      int
		col, val string
	}{
		{1, "timestamp", "2026-11-21T09:30:00Z"},
		{1, "outcome", "held"},
		{1, "status", "200"},
		{1, "resource_id", "j1"},
		{1, "rule_ids", "workflow/w; policy/p"},
		{2, "status", ""},
		{2, "reasons", "bad key; again"},
		{2, "user_id", "'=HYPERLINK(\"x\")"},
	} {
		assert.Equal(t, tc.val, rows[tc.row][col(tc.col)], "row %d %s", tc.row, tc.col)
	}
}
