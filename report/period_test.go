package report

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePeriod(t *testing.T) {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		in       string
		from, to time.Time
		err      string
	}{
		{in: "2026-Q1", from: d(2026, 1, 1), to: d(2026, 4, 1)},
		{in: "2026-Q4", from: d(2026, 10, 1), to: d(2027, 1, 1)},
		{in: "2026-03", from: d(2026, 3, 1), to: d(2026, 4, 1)},
		{in: "2026", from: d(2026, 1, 1), to: d(2027, 1, 1)},
		{in: "2026-03-15", from: d(2026, 3, 15), to: d(2026, 3, 16)},
		{in: "2026-01-01..2026-02-15", from: d(2026, 1, 1), to: d(2026, 2, 16)},
		{in: "2026-02-15..2026-01-01", err: "inverted"},
		{in: "2026-Q5", err: "use a quarter"},
		{in: "last week", err: "use a quarter"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePeriod(tt.in)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.from, p.From)
			assert.Equal(t, tt.to, p.To)
		})
	}
}
