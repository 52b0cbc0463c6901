package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is the time a report covers: From <= t < To, in UTC.
type Period struct {
	Name string    `json:"name"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ParsePeriod reads a quarter (2026-Q1), a month (2026-03), a year
// (2026), a day (2026-03-15) or a range of days (2026-01-01..2026-02-15,
// both included).
func ParsePeriod(s string) (Period, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("period %q: use a quarter (2026-Q1), a month (2026-03), a year (2026), a day (2026-03-15) or a range (2026-01-01..2026-02-15)", s)
	if from, to, ok := strings.Cut(s, ".."); ok {
		f, err1 := time.Parse(time.DateOnly, from)
		t, err2 := time.Parse(time.DateOnly, to)
		if err1 != nil || err2 != nil {
			return Period{}, bad
		}
		if t.Before(f) {
			return Period{}, fmt.Errorf("period %q is inverted: %s is before %s", s, to, from)
		}
		return Period{Name: s, From: f, To: t.AddDate(0, 0, 1)}, nil
	}
	if y, q, ok := strings.Cut(s, "-Q"); ok {
		year, err1 := strconv.Atoi(y)
		n, err2 := strconv.Atoi(q)
		if err1 != nil || err2 != nil || n < 1 || n > 4 || len(y) != 4 {
			return Period{}, bad
		}
		from := time.Date(year, time.Month(3*(n-1)+1), 1, 0, 0, 0, 0, time.UTC)
		return Period{Name: s, From: from, To: from.AddDate(0, 3, 0)}, nil
	}
	for _, f := range []struct {
		layout string
		years  int
		months int
		days   int
	}{{"2006", 1, 0, 0}, {"2006-01", 0, 1, 0}, {time.DateOnly, 0, 0, 1}} {
		if t, err := time.Parse(f.layout, s); err == nil && len(s) == len(f.layout) {
			return Period{Name: s, From: t, To: t.AddDate(f.years, f.months, f.days)}, nil
		}
	}
	return Period{}, bad
}
