package console

import (
	"fmt"
	"strings"

	"github.com/qgov/qgov/report"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH   = 640.0, 220.0
	padL, padR       = 56.0, 12.0
	padT, padB       = 12.0, 28.0
	plotW, plotH     = chartW - padL - padR, chartH - padT - padB
	maxSeriesClasses = 6
)

// svgChart is a chart laid out for the template: bars, lines, axis
// labels and a legend, with a title and description for screen readers
// (the page also lists the numbers in a table).
type svgChart struct {
	ID, Title, Desc string
	W, H            float64
	Bars            []bar
	Lines           []line
	X, Y            []tick
	Legend          []legend
	Base            float64 // y of the zero line
	Left, Right     float64
}

type bar struct {
	X, Y, W, H float64
	Class      string
	Label      string
}

type line struct {
	Points string
	Class  string
}

type tick struct {
	X, Y float64
	Text string
}

type legend struct{ Name, Class string }

// frame starts a chart whose values run from 0 to top.
func frame(id, title, desc, unit string, labels []string, top float64) (svgChart, func(i int) float64, func(v float64) float64) {
	if top <= 0 {
		top = 1
	}
	c := svgChart{ID: id, Title: title, Desc: desc, W: chartW, H: chartH, Base: padT + plotH, Left: padL, Right: chartW - padR}
	n := max(len(labels), 1)
	x := func(i int) float64 { return padL + plotW*float64(i)/float64(n) }
	y := func(v float64) float64 { return padT + plotH*(1-v/top) }
	for k := 0; k <= 4; k++ {
		v := top * float64(k) / 4
		c.Y = append(c.Y, tick{X: padL - 6, Y: y(v) + 4, Text: short(v, unit)})
	}
	step := max(1, (len(labels)+7)/8)
	for i := 0; i < len(labels); i += step {
		c.X = append(c.X, tick{X: x(i) + plotW/float64(n)/2, Y: chartH - 8, Text: dayOfMonth(labels[i])})
	}
	return c, x, y
}

// dayOfMonth shortens a date label (2026-11-21) to 11-21.
func dayOfMonth(label string) string {
	if len(label) == len("2006-01-02") {
		return label[5:]
	}
	return label
}

// short formats an axis value.
func short(v float64, unit string) string {
	if unit == "USD" {
		return fmt.Sprintf("$%.0f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// stacked lays out a report's chart as stacked bars.
func stacked(id string, rc *report.Chart) svgChart {
	top := 0.0
	for i := range rc.Labels {
		sum := 0.0
		for _, s := range rc.Series {
			sum += s.Values[i]
		}
		top = max(top, sum)
	}
	top = niceTop(top)
	if rc.Unit != "USD" {
		top = max(top, 4) // whole counts: every tick an integer
	}
	c, x, y := frame(id, rc.Title, fmt.Sprintf("%s per day, stacked by %d series", rc.Unit, len(rc.Series)), rc.Unit, rc.Labels, top)
	w := plotW / float64(max(len(rc.Labels), 1))
	for si, s := range rc.Series {
		class := fmt.Sprintf("s%d", si%maxSeriesClasses)
		c.Legend = append(c.Legend, legend{Name: s.Name, Class: class})
	}
	for i, label := range rc.Labels {
		base := 0.0
		for si, s := range rc.Series {
			v := s.Values[i]
			if v <= 0 {
				continue
			}
			c.Bars = append(c.Bars, bar{X: x(i) + w*0.1, Y: y(base + v), W: w * 0.8, H: y(base) - y(base+v),
				Class: fmt.Sprintf("s%d", si%maxSeriesClasses), Label: fmt.Sprintf("%s %s: %.2f %s", label, s.Name, v, rc.Unit)})
			base += v
		}
	}
	return c
}

// burnDown lays out a budget's month: the remaining budget after each
// day's spend up to today, against an even spend of the whole budget.
func burnDown(id, name string, limit float64, labels []string, daily []float64, today string) svgChart {
	c, x, y := frame(id, "Burn-down: "+name, fmt.Sprintf("USD remaining of %.2f after each day, against an even spend", limit), "USD", labels, niceTop(limit))
	n := len(labels)
	c.Lines = append(c.Lines, line{Class: "ideal", Points: fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x(0), y(limit), x(n), y(0))})
	var pts []string
	left := limit
	pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(0), y(limit)))
	for i, label := range labels {
		if label > today {
			break
		}
		left -= daily[i]
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i+1), y(max(left, 0))))
	}
	c.Lines = append(c.Lines, line{Class: "actual", Points: strings.Join(pts, " ")})
	c.Legend = []legend{{Name: "remaining", Class: "actual"}, {Name: "even spend", Class: "ideal"}}
	return c
}

// niceTop rounds a chart's top up to 1, 2 or 5 times a power of ten.
func niceTop(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for p > v {
		p /= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
