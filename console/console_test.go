package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/internal/route"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/report"
)

// TestRoutes matches the console's paths: the overview only at the
// prefix with its slash, one segment for an {id}.
func TestRoutes(t *testing.T) {
	for _, tc := range []struct {
		method, path, id string
		found            route.Result
	}{
		{"GET", "/console/", "", route.Found},
		{"GET", "/console/approvals", "", route.Found},
		{"GET", "/console/approvals/abc", "abc", route.Found},
		{"POST", "/console/approvals/abc", "abc", route.Found},
		{"GET", "/console/approvals/", "", route.Unknown},
		{"GET", "/console/approvals/a/b", "", route.Unknown},
		{"POST", "/console/keys/k-1/rotate", "k-1", route.Found},
		{"POST", "/console/keys/k-1/renew", "", route.Unknown},
		{"GET", "/console/keys/k-1/rotate", "", route.NotAllowed},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		_, found := routes.Match(r)
		assert.Equal(t, tc.found, found, "%s %s", tc.method, tc.path)
		if found == route.Found {
			assert.Equal(t, tc.id, r.PathValue("id"), "%s %s", tc.method, tc.path)
		}
	}
}

func TestNiceTop(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.3: 0.5, 1: 1, 3.6: 5, 12: 20, 1000: 1000, 1001: 2000, 4999: 5000} {
		assert.Equal(t, want, niceTop(in), "niceTop(%v)", in)
	}
}

// TestBurnDown follows a budget of 100 over four days with 10 spent on
// the first and 30 on the third: the line stops at today, 60 left.
func TestBurnDown(t *testing.T) {
	labels := []string{"2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"}
	ch := &report.Chart{Labels: labels, Series: []report.Series{{Name: "ml", Values: []float64{10, 0, 30, 0}}, {Name: "chem", Values: []float64{5, 5, 5, 5}}}}
	project := dailySpend(ch, quota.BudgetView{Scope: quota.ScopeProject, Name: "ml"})
	assert.Equal(t, []float64{10, 0, 30, 0}, project)
	assert.Equal(t, []float64{15, 5, 35, 5}, dailySpend(ch, quota.BudgetView{Scope: quota.ScopeTenant, Name: "lab"}))

	c := burnDown("b", "project ml", 100, labels, project, "2026-11-03")
	_, x, y := frame("", "", "", "USD", labels, 100)
	points := strings.Fields(c.Lines[1].Points)
	assert.Len(t, points, 4, "the start and three days up to today")
	assert.Equal(t, pt(x(3), y(60)), points[3], "60 left after the third day")
	assert.Equal(t, pt(x(0), y(100))+" "+pt(x(4), y(0)), c.Lines[0].Points, "the even spend runs from the limit to zero")
}

func pt(x, y float64) string { return fmt.Sprintf("%.1f,%.1f", x, y) }

// TestCSRFToken: the token depends on the session, is stable for it,
// and is not the session's id.
func TestCSRFToken(t *testing.T) {
	req := func(cookie string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/console/keys", nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: identity.SessionCookie, Value: cookie})
		}
		return r
	}
	a, b := csrfToken(req("secret-a")), csrfToken(req("secret-b"))
	assert.NotEmpty(t, a)
	assert.NotEqual(t, a, b)
	assert.Equal(t, a, csrfToken(req("secret-a")))
	assert.Empty(t, csrfToken(req("")), "no session, no token: every form is refused")
	assert.NotContains(t, a, "secret-a")
}

// TestMethodNotAllowed: a page asked with a method it is not served with
// is refused with 405 and an Allow header naming those it is.
func TestMethodNotAllowed(t *testing.T) {
	c := &Console{}
	for _, tc := range []struct{ method, path, allow string }{
		{"DELETE", "/console/spend", "GET"},
		{"GET", "/console/keys/k-1/rotate", "POST"},
		{"PUT", "/console/keys", "GET, POST"},
	} {
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, "%s %s", tc.method, tc.path)
		assert.Equal(t, tc.allow, rec.Header().Get("Allow"), "%s %s", tc.method, tc.path)
	}
}
