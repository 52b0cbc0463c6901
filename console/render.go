package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// page is what every template sees.
type page struct {
	Who        *Who
	CSRF       string
	Flash      string
	FlashError bool
	Nav        []navItem
	Path       string
	Now        time.Time
	Data       any
}

// navItem is one entry of the navigation.
type navItem struct {
	Href, Label string
	Current     bool
}

// nav lists the pages the caller's roles open to them.
func (v *visit) nav() []navItem {
	items := []navItem{{Href: Prefix + "/", Label: "Overview"}, {Href: Prefix + "/approvals", Label: "Approvals"}}
	if v.who.May("budget:view") || v.who.May("report:view") {
		items = append(items, navItem{Href: Prefix + "/spend", Label: "Spend"})
	}
	items = append(items, navItem{Href: Prefix + "/keys", Label: "Keys and sessions"})
	if v.who.MayTenant("audit:view") {
		items = append(items, navItem{Href: Prefix + "/audit", Label: "Audit"}, navItem{Href: Prefix + "/access", Label: "Access review"})
	}
	for i := range items {
		items[i].Current = items[i].Href == v.r.URL.Path || (items[i].Href != Prefix+"/" && strings.HasPrefix(v.r.URL.Path, items[i].Href+"/"))
	}
	return items
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"usd":  func(f float64) string { return fmt.Sprintf("USD %.2f", f) },
	"join": strings.Join,
	"left": func(until, now time.Time) string {
		d := until.Sub(now).Round(time.Minute)
		if d <= 0 {
			return "overdue"
		}
		return strings.TrimSuffix(d.String(), "0s") + " left"
	},
	// args passes a held job and the time to the holdfacts template.
	"args": func(h any, now time.Time) map[string]any { return map[string]any{"Hold": h, "Now": now} },
	"list": func(s ...string) []string { return s },
	"percent": func(part, whole float64) string {
		if whole <= 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f%%", 100*part/whole)
	},
}

// parsePages parses each page with the layout.
func parsePages() map[string]*template.Template {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", n))
	}
	return pages
}

// render writes a page: the layout around the named template's content.
func (c *Console) render(v *visit, name string, data any) {
	p := page{Who: v.who, CSRF: v.csrf, Flash: v.flash, FlashError: v.flashError, Path: v.r.URL.Path, Now: c.Now(), Data: data}
	if v.who != nil {
		p.Nav = v.nav()
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.Logger.Error("console: rendering a page", "page", name, "error", err)
		http.Error(v.w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	v.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	v.w.WriteHeader(v.status)
	_, _ = buf.WriteTo(v.w)
}
