package report

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/go-pdf/fpdf"
)

// palette colours chart series and table headers.
var palette = [][3]int{{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}}

// pdf writes an A4 landscape document: title block, facts, the chart,
// then each table with a repeated header row across pages.
func (r *Report) pdf(w io.Writer) error {
	doc := fpdf.New("L", "mm", "A4", "")
	doc.SetMargins(12, 12, 12)
	doc.SetAutoPageBreak(true, 14)
	tr := doc.UnicodeTranslatorFromDescriptor("")
	doc.SetFooterFunc(func() {
		doc.SetY(-10)
		doc.SetFont("Helvetica", "", 8)
		doc.SetTextColor(110, 110, 110)
		doc.CellFormat(0, 5, tr(fmt.Sprintf("qgov %s · %s · %s · page %d", r.Type, r.Tenant, r.Period.Name, doc.PageNo())), "", 0, "C", false, 0, "")
	})
	doc.AddPage()
	doc.SetFont("Helvetica", "B", 18)
	doc.CellFormat(0, 10, tr(r.Title), "", 1, "L", false, 0, "")
	doc.SetFont("Helvetica", "", 10)
	doc.SetTextColor(70, 70, 70)
	doc.CellFormat(0, 6, tr(fmt.Sprintf("Tenant %s · %s (%s to %s) · %s · generated %s", r.Tenant, r.Period.Name,
		r.Period.From.Format("2006-01-02"), r.Period.To.AddDate(0, 0, -1).Format("2006-01-02"), r.Scope, r.Generated.Format("2006-01-02 15:04 UTC"))), "", 1, "L", false, 0, "")
	doc.Ln(3)
	r.pdfFacts(doc, tr)
	if r.Chart != nil {
		r.Chart.draw(doc, tr)
	}
	for _, t := range r.Tables {
		t.draw(doc, tr)
	}
	return doc.Output(w)
}

func (r *Report) pdfFacts(doc *fpdf.Fpdf, tr func(string) string) {
	doc.SetTextColor(0, 0, 0)
	for _, f := range r.Facts {
		doc.SetFont("Helvetica", "B", 10)
		doc.CellFormat(55, 6, tr(f.Label), "", 0, "L", false, 0, "")
		doc.SetFont("Helvetica", "", 10)
		doc.MultiCell(0, 6, tr(f.Value), "", "L", false)
	}
	doc.Ln(3)
}

// draw draws a stacked bar chart with a value axis and a legend.
func (c *Chart) draw(doc *fpdf.Fpdf, tr func(string) string) {
	const height = 62.0
	left, _, right, _ := doc.GetMargins()
	pageW, pageH := doc.GetPageSize()
	if doc.GetY()+height+22 > pageH-14 {
		doc.AddPage()
	}
	doc.SetFont("Helvetica", "B", 12)
	doc.CellFormat(0, 7, tr(c.Title+" ("+c.Unit+")"), "", 1, "L", false, 0, "")
	x0, y0 := left+16, doc.GetY()+2
	width := pageW - right - x0
	top := 0.0
	for i := range c.Labels {
		total := 0.0
		for _, s := range c.Series {
			total += s.Values[i]
		}
		top = math.Max(top, total)
	}
	scale := niceCeil(top)
	doc.SetFont("Helvetica", "", 7)
	doc.SetDrawColor(200, 200, 200)
	for k := 0; k <= 4; k++ {
		y := y0 + height - height*float64(k)/4
		doc.Line(x0, y, x0+width, y)
		doc.SetXY(left, y-2)
		doc.CellFormat(14, 4, num(round2(scale*float64(k)/4)), "", 0, "R", false, 0, "")
	}
	n := max(len(c.Labels), 1)
	slot := width / float64(n)
	bar := slot * 0.7
	for i, label := range c.Labels {
		y := y0 + height
		for j, s := range c.Series {
			if scale == 0 || s.Values[i] == 0 {
				continue
			}
			h := height * s.Values[i] / scale
			col := palette[j%len(palette)]
			doc.SetFillColor(col[0], col[1], col[2])
			doc.Rect(x0+float64(i)*slot+(slot-bar)/2, y-h, bar, h, "F")
			y -= h
		}
		if every := max(1, n/12); i%every == 0 {
			doc.SetXY(x0+float64(i)*slot, y0+height+1)
			doc.CellFormat(slot*float64(every), 4, label[5:], "", 0, "L", false, 0, "")
		}
	}
	doc.SetXY(x0, y0+height+6)
	if len(c.Series) == 0 {
		doc.CellFormat(0, 5, tr("No data in the period."), "", 0, "L", false, 0, "")
	}
	for j, s := range c.Series {
		col := palette[j%len(palette)]
		doc.SetFillColor(col[0], col[1], col[2])
		doc.Rect(doc.GetX(), doc.GetY()+1, 3, 3, "F")
		doc.SetX(doc.GetX() + 4)
		doc.CellFormat(doc.GetStringWidth(s.Name)+6, 5, tr(s.Name), "", 0, "L", false, 0, "")
	}
	doc.Ln(9)
}

// niceCeil rounds a chart's top up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// draw draws a table with column widths by content, wrapping long cells.
func (t *Table) draw(doc *fpdf.Fpdf, tr func(string) string) {
	left, _, right, _ := doc.GetMargins()
	pageW, pageH := doc.GetPageSize()
	if doc.GetY()+30 > pageH-14 {
		doc.AddPage()
	}
	doc.SetFont("Helvetica", "B", 12)
	doc.SetTextColor(0, 0, 0)
	doc.CellFormat(0, 8, tr(t.Title), "", 1, "L", false, 0, "")
	if len(t.Rows) == 0 {
		doc.SetFont("Helvetica", "I", 9)
		doc.MultiCell(0, 5, tr(t.Empty), "", "L", false)
		doc.Ln(3)
		return
	}
	widths := t.widths(doc, pageW-left-right)
	header := func() {
		doc.SetFont("Helvetica", "B", 8)
		doc.SetFillColor(230, 236, 245)
		for i, c := range t.Columns {
			doc.CellFormat(widths[i], 6, tr(c), "1", 0, "L", true, 0, "")
		}
		doc.Ln(-1)
		doc.SetFont("Helvetica", "", 8)
	}
	header()
	const lineH = 4.2
	for _, row := range t.Rows {
		lines := 1
		for i, cell := range row {
			lines = max(lines, len(doc.SplitText(tr(cell), widths[i]-2)))
		}
		h := float64(lines) * lineH
		if doc.GetY()+h > pageH-14 {
			doc.AddPage()
			header()
		}
		x, y := doc.GetX(), doc.GetY()
		for i, cell := range row {
			doc.Rect(x, y, widths[i], h, "D")
			doc.SetXY(x+1, y)
			doc.MultiCell(widths[i]-2, lineH, tr(cell), "", "L", false)
			x += widths[i]
		}
		doc.SetXY(left, y+h)
	}
	doc.Ln(4)
}

// widths shares the page width among columns by their longest content,
// each at least a little and at most half.
func (t *Table) widths(doc *fpdf.Fpdf, total float64) []float64 {
	doc.SetFont("Helvetica", "", 8)
	want := make([]float64, len(t.Columns))
	for i, c := range t.Columns {
		want[i] = doc.GetStringWidth(c) + 4
	}
	for _, row := range t.Rows {
		for i, cell := range row {
			want[i] = math.Max(want[i], math.Min(doc.GetStringWidth(strings.TrimSpace(cell))+4, total/2))
		}
	}
	sum := 0.0
	for _, w := range want {
		sum += w
	}
	out := make([]float64, len(want))
	for i, w := range want {
		out[i] = w * total / sum
	}
	return out
}
