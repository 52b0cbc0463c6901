package csvsafe

import (
	"bytes"
	"testing"
)

func TestDefusedCells(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.Write("=HYPERLINK(\"http://evil.example\")", "+1", "-2", "@SUM(A1)", "\tx", "plain", ""); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "\"'=HYPERLINK(\"\"http://evil.example\"\")\",'+1,'-2,'@SUM(A1),'\tx,plain,\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}
