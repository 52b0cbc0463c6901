package testenv

import (
	"os/exec"
	"testing"
)

// Chromium returns the path of a Chromium or Chrome binary for browser
// tests; `make test` installs Debian's chromium when none is found.
func Chromium(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipped, it needs Chromium (make test runs it)")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("chromium is not installed: `make test` installs it (Debian package chromium)")
	return ""
}
