package testenv

import (
	"encoding/csv"
	"strings"
	"testing"
)

// FormulaCells reads a CSV whose rows may differ in width, as qgov's
// reports are, and returns the cells a spreadsheet would evaluate as
// formulas and how many cells contain text.
func FormulaCells(t testing.TB, body, text string) (formulas []string, found int) {
	t.Helper()
	cr := csv.NewReader(strings.NewReader(body))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("reading the CSV: %v", err)
	}
	for _, row := range rows {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				formulas = append(formulas, cell)
			}
			if strings.Contains(cell, text) {
				found++
			}
		}
	}
	return formulas, found
}
