package quota

import "time"

// window is a fixed UTC window a counter counts in.
type window struct {
	name  string // "minute", "hour", "day", "month"
	id    string // the window's start, as it appears in counter keys
	start time.Time
	end   time.Time
}

// windowAt returns the window of a kind containing t.
func windowAt(kind string, t time.Time) window {
	t = t.UTC()
	var start, end time.Time
	var layout string
	switch kind {
	case "minute":
		start, layout = t.Truncate(time.Minute), "200601021504"
		end = start.Add(time.Minute)
	case "hour":
		start, layout = t.Truncate(time.Hour), "2006010215"
		end = start.Add(time.Hour)
	case "day":
		start, layout = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), "20060102"
		end = start.AddDate(0, 0, 1)
	default: // month
		start, layout = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC), "2006-01"
		end = start.AddDate(0, 1, 0)
	}
	return window{name: kind, id: start.Format(layout), start: start, end: end}
}

// ttl keeps a window's counter a minute past the window's end.
func (w window) ttl(now time.Time) time.Duration { return w.end.Sub(now) + time.Minute }
