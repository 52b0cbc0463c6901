package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/internal/qiskitclient"
	"github.com/qgov/qgov/internal/testenv"
)

// screenshots is where the console tests leave a picture of each page.
var screenshots = filepath.Join("..", "bin", "console-screenshots")

// browser is one person's headless Chromium, with its own cookies.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// newBrowser starts a headless Chromium for one person.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testenv.Chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1280, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx), "starting Chromium")
	return &browser{t: t, ctx: ctx, base: base}
}

// do performs browser steps and fails the test on error.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, steps...), what)
}

// read runs one action that answers a value.
func read[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(b.t, err, what)
	return v
}

// text is the visible text of the page's main element.
func (b *browser) text() string {
	b.t.Helper()
	return read(b, "reading the page", chromedp.Text(chromedp.CSS("main")))
}

// open goes to a console page and waits for it.
func (b *browser) open(path string) string {
	b.t.Helper()
	b.do("opening "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("main")))
	return b.text()
}

// shot saves a full-page screenshot as <name>.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	png := read(b, "taking a screenshot", chromedp.FullScreenshot(100))
	require.NoError(b.t, os.MkdirAll(screenshots, 0o755))
	require.NoError(b.t, os.WriteFile(filepath.Join(screenshots, name+".png"), png, 0o644))
}

// signIn signs a demo user in through the App ID stand-in's login page.
func (b *browser) signIn(user string) {
	b.t.Helper()
	assert.Contains(b.t, b.open("/console/"), "Sign in with your organisation's identity provider")
	b.shot("signin")
	b.do("signing in as "+user,
		chromedp.Click(chromedp.CSS("main a.button")),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), user+"-demo"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Console sections"]`)))
}

// waitText waits until an element reads want, through the page's own
// reloads.
func (b *browser) waitText(sel, want string, within time.Duration) {
	b.t.Helper()
	var got string
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if got = strings.TrimSpace(s); err == nil && got == want {
			return
		}
	}
	b.t.Fatalf("%s reads %q, not %q, after %v", sel, got, want, within)
}

// cookie returns the browser's sign-in session cookie.
func (b *browser) cookie() string {
	b.t.Helper()
	cookies := read(b, "reading cookies", func(ctx context.Context, t *chromedp.Target) (*network.GetCookiesResult, error) {
		res, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base}})
		return &res, err
	})
	for _, c := range cookies.Cookies {
		if c.Name == identity.SessionCookie {
			return c.Value
		}
	}
	b.t.Fatal("no sign-in cookie")
	return ""
}

// TestConsoleInChromium drives the console in headless Chromium. Amyra,
// team lead of ml, finds Fatima's held hardware job in her queue with
// its facts, approves it and watches it run to completion, and sees the
// month's spend; Fatima creates a key (shown once, and working), then
// revokes it, and sees no audit pages; the administrator searches the
// trail for the job and reviews access. A form without the session's
// token, or from another site, changes nothing. Each page is saved as a
// screenshot under bin/console-screenshots.
func TestConsoleInChromium(t *testing.T) {
	d := startDemoWith(t, demoPolicies)
	ctx := context.Background()
	held, err := d.client("demo-fatima-key", "QR-ml").Submit(ctx, hardwareJob("experiment:bell"))
	require.NoError(t, err)

	t.Run("the team lead approves a held job and watches it run", func(t *testing.T) {
		amyra := newBrowser(t, d.gateway)
		amyra.signIn("amyra")
		assert.Contains(t, amyra.text(), "1 held job waits for your decision")
		amyra.shot("overview")

		page := amyra.open("/console/approvals")
		for _, want := range []string{held.ID, "fatima", "ml on QR-ml", "ibm_qgov_eagle", "1000", "USD 3.", "workflow/high_cost_job", "left"} {
			assert.Contains(t, page, want)
		}
		amyra.shot("approvals")
		amyra.do("approving",
			chromedp.SendKeys(chromedp.CSS("#c-"+held.ID), "Approved for the quarterly experiment"),
			chromedp.Click(chromedp.CSS(`form[action="/console/approvals/`+held.ID+`"] button[value="approve"]`)),
			chromedp.WaitVisible(chromedp.CSS(".status")))
		amyra.shot("approval-released")
		assert.Contains(t, amyra.text(), "Approved job "+held.ID)
		amyra.waitText("#job-status", runtimeapi.StatusCompleted, time.Minute)
		page = amyra.text()
		assert.Contains(t, page, "released")
		assert.Contains(t, page, "Approved for the quarterly experiment")
		amyra.shot("approval-completed")

		page = amyra.open("/console/spend")
		for _, want := range []string{"Budgets", "project ml", "Burn-down", "Estimated and actual spend", "Jobs over time"} {
			assert.Contains(t, page, want)
		}
		budgets := read(amyra, "counting budgets", chromedp.Evaluate[int](`document.querySelectorAll("section.budget").length`))
		assert.Equal(t, 1, budgets, "a team lead sees her project's budget, not the tenant's")
		svgs := read(amyra, "counting charts", chromedp.Evaluate[int](`document.querySelectorAll("figure.chart svg").length`))
		assert.GreaterOrEqual(t, svgs, 2, "a burn-down and the job chart")
		amyra.shot("spend")
	})

	t.Run("Fatima creates and revokes a key", func(t *testing.T) {
		fatima := newBrowser(t, d.gateway)
		fatima.signIn("fatima")
		nav := read(fatima, "reading the navigation", chromedp.Text(chromedp.CSS("nav")))
		assert.NotContains(t, nav, "Audit", "a submitter has no audit pages")
		assert.Contains(t, fatima.open("/console/audit"), "lacks audit:view")

		fatima.open("/console/keys")
		fatima.do("creating a key",
			chromedp.SendKeys(chromedp.CSS("#key-name"), "notebook"),
			chromedp.Click(chromedp.CSS(`input[name="projects"][value="ml"]`)),
			chromedp.Click(chromedp.CSS(`form[action="/console/keys"] button`)),
			chromedp.WaitVisible(chromedp.CSS("#secret")))
		secret := read(fatima, "reading the secret", chromedp.Value(chromedp.CSS("#secret")))
		require.NotEmpty(t, secret)
		fatima.shot("key-created")
		_, err := (&qiskitclient.Client{BaseURL: d.gateway, APIKey: secret}).ExchangeAPIKey(ctx)
		require.NoError(t, err, "the new key works with a Qiskit client")

		page := fatima.open("/console/keys")
		assert.Contains(t, page, "notebook")
		assert.NotContains(t, page, secret, "the secret is shown only once")
		assert.Contains(t, page, "(this browser)")
		fatima.shot("keys")

		t.Run("a form without the session's token or from another site changes nothing", func(t *testing.T) {
			cookie := fatima.cookie()
			for name, h := range map[string]http.Header{
				"no token":     {"Cookie": {identity.SessionCookie + "=" + cookie}},
				"another site": {"Cookie": {identity.SessionCookie + "=" + cookie}, "Sec-Fetch-Site": {"cross-site"}},
			} {
				req, _ := http.NewRequest(http.MethodPost, d.gateway+"/console/keys", strings.NewReader(url.Values{"name": {"forged"}, "csrf": {"guess"}}.Encode()))
				req.Header = h
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusForbidden, resp.StatusCode, name)
			}
			assert.NotContains(t, fatima.open("/console/keys"), "forged")
		})

		fatima.do("revoking the key", chromedp.Click(chromedp.CSS(`button[aria-label="Revoke key notebook"]`)),
			chromedp.WaitVisible(chromedp.CSS(".flash")))
		page = fatima.text()
		assert.Contains(t, page, "Revoked key")
		assert.NotContains(t, page, "notebook")
		_, err = (&qiskitclient.Client{BaseURL: d.gateway, APIKey: secret}).ExchangeAPIKey(ctx)
		require.Error(t, err, "a revoked key no longer works")
	})

	t.Run("the administrator searches the trail and reviews access", func(t *testing.T) {
		admin := newBrowser(t, d.gateway)
		admin.signIn("admin")
		page := admin.open("/console/audit?resource_id=" + held.ID)
		assert.Contains(t, page, "The trail verifies")
		for _, want := range []string{"quantum-computing.job.create", "held", "qgov.approval.approve", "amyra"} {
			assert.Contains(t, page, want)
		}
		admin.shot("audit")
		csv := read(admin, "reading the CSV link", chromedp.Evaluate[string](`document.querySelector('a[href^="/governance/v1/audit/logs?"]').getAttribute("href")`))
		assert.Contains(t, csv, "format=csv")
		assert.Contains(t, csv, "resource_id="+held.ID)
		req, _ := http.NewRequest(http.MethodGet, d.gateway+csv, nil)
		req.Header.Set("Cookie", identity.SessionCookie+"="+admin.cookie())
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		assert.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		assert.True(t, strings.HasPrefix(lines[0], "timestamp,audit_id,tenant_id,user_id"))
		assert.Len(t, lines, 1+strings.Count(page, "quantum_job "+held.ID), "one line per record the search shows")
		assert.Contains(t, string(body), "qgov.approval.approve")

		page = admin.open("/console/access")
		for _, want := range []string{"Who holds which role where, and why", "amyra", "team_lead", "Grants expiring within 30 days"} {
			assert.Contains(t, page, want)
		}
		admin.shot("access")
		assert.Contains(t, admin.open("/console/nothing-here"), "No such page")
	})
}
