package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/qgov/qgov/internal/csvsafe"
)

// Formats a report renders to, with their media types.
var Formats = map[string]string{"json": "application/json", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}

// Render writes the report in a format: json, csv or pdf.
func (r *Report) Render(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "csv":
		return r.csv(w)
	case "pdf":
		return r.pdf(w)
	}
	return fmt.Errorf("unknown format %q: use json, csv or pdf", format)
}

// csv writes the facts, then each table with its title as a row of its
// own and a blank row between, so that a spreadsheet shows them in turn.
func (r *Report) csv(w io.Writer) error {
	cw := csvsafe.NewWriter(w)
	write := func(rec ...string) { _ = cw.Write(rec...) }
	write(r.Title, r.Tenant, r.Period.Name, r.Scope, r.Generated.Format("2006-01-02T15:04:05Z"))
	for _, f := range r.Facts {
		write(f.Label, f.Value)
	}
	if c := r.Chart; c != nil {
		write()
		write(append([]string{c.Title + " (" + c.Unit + ")"}, c.Labels...)...)
		for _, s := range c.Series {
			row := []string{s.Name}
			for _, v := range s.Values {
				row = append(row, num(v))
			}
			write(row...)
		}
	}
	for _, t := range r.Tables {
		write()
		write(t.Title)
		write(t.Columns...)
		for _, row := range t.Rows {
			write(row...)
		}
		if len(t.Rows) == 0 {
			write(t.Empty)
		}
	}
	return cw.Flush()
}
