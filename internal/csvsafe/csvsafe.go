// Package csvsafe writes CSV that a spreadsheet opens as data: a cell
// that a spreadsheet would read as a formula (starting with =, +, -, @, a
// tab or a carriage return) is written with a leading quote, so a value a
// user chose (a job tag, a key name, a policy message) cannot run as a
// formula on the machine of whoever opens the export.
package csvsafe

import (
	"encoding/csv"
	"io"
	"strings"
)

// Writer writes defused CSV records.
type Writer struct{ cw *csv.Writer }

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{cw: csv.NewWriter(w)} }

// Write writes one record, each cell defused.
func (w *Writer) Write(record ...string) error {
	row := make([]string, len(record))
	for i, cell := range record {
		row[i] = Defuse(cell)
	}
	return w.cw.Write(row)
}

// Flush writes buffered records and returns the first error met.
func (w *Writer) Flush() error {
	w.cw.Flush()
	return w.cw.Error()
}

// Defuse keeps a spreadsheet from evaluating a cell as a formula.
func Defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
