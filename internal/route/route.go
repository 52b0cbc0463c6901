// Package route is qgov's one way of routing requests: a table of
// net/http ServeMux patterns ("GET /jobs/{id}/results"), each with a
// value (an IBM action, an audit action, what serves it), matched against
// a request. Unlike a ServeMux serving on its own, a match writes no
// answer: an unclean or escaped path, an unknown path and a known path
// asked with another method are told apart, for the caller to refuse in
// its own error body.
package route

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Route is one pattern of a table and its value.
type Route[T any] struct {
	// Pattern is a ServeMux pattern with a method: "POST /jobs/{id}/cancel".
	Pattern string
	Value   T
}

// Result says how a request matched a table.
type Result int

// The results of Match.
const (
	// Found: a route has the request's method and path.
	Found Result = iota
	// Unknown: no route has the path (or the path is not clean).
	Unknown
	// NotAllowed: a route has the path, with another method.
	NotAllowed
)

// Table matches requests against routes.
type Table[T any] struct {
	mux *http.ServeMux
	// by holds each route's value and method, by its pattern.
	by map[string]entry[T]
	// allow lists each path's methods, by its method-less pattern.
	allow map[string]string
}

type entry[T any] struct {
	method string
	value  T
	// slash: the pattern ends in "/{$}", so its path ends in a slash
	slash bool
}

// New builds a table. It panics on an invalid or conflicting pattern, or
// one without a method, as a ServeMux does at start-up.
func New[T any](routes []Route[T]) *Table[T] {
	t := &Table[T]{mux: http.NewServeMux(), by: map[string]entry[T]{}, allow: map[string]string{}}
	paths := map[string]bool{}
	for _, rt := range routes {
		method, p, ok := strings.Cut(rt.Pattern, " ")
		if !ok || method == "" {
			panic(fmt.Sprintf("route %q: a pattern names its method", rt.Pattern))
		}
		t.mux.Handle(rt.Pattern, nothing)
		t.by[rt.Pattern] = entry[T]{method: method, value: rt.Value, slash: strings.HasSuffix(p, "/{$}")}
		if t.allow[p] != "" {
			method = t.allow[p] + ", " + method
		}
		t.allow[p] = method
		if !paths[p] {
			paths[p] = true
			t.mux.Handle(p, nothing) // the path with any other method
		}
	}
	if !paths["/"] {
		t.mux.Handle("/", nothing) // every other path
	}
	return t
}

// Match finds the route of r. When Found, r.PathValue gives the pattern's
// wildcards, unescaped. A path that is not clean ("//", ".", "..") or
// whose escapes hide a separator or a dot segment ("%2F", "%5C", "%2e")
// matches no route, so that qgov and the upstream cannot split it
// differently; other escapes ("alice%3Aadmin") are read as the
// characters they stand for. A trailing slash matches only a pattern that
// ends in "/{$}".
func (t *Table[T]) Match(r *http.Request) (T, Result) {
	var zero T
	if !clean(r.URL.Path) || !plainEscapes(r.URL.RawPath) {
		return zero, Unknown
	}
	t.mux.ServeHTTP(discard{}, r)
	e, ok := t.by[r.Pattern]
	switch {
	case ok && e.slash != strings.HasSuffix(r.URL.Path, "/"):
		return zero, Unknown // the mux would redirect to add the slash
	case ok && e.method == r.Method:
		return e.value, Found
	case ok, r.Pattern != "/":
		return zero, NotAllowed // including HEAD on a GET route
	}
	return zero, Unknown
}

// Allow lists the methods r's path is served with, for the Allow header
// of a NotAllowed answer ("" for an unknown path).
func (t *Table[T]) Allow(r *http.Request) string {
	if !clean(r.URL.Path) || !plainEscapes(r.URL.RawPath) {
		return ""
	}
	_, p := t.mux.Handler(r)
	if _, path, ok := strings.Cut(p, " "); ok { // HEAD matches a GET pattern
		p = path
	}
	return t.allow[p]
}

// clean reports whether p is a clean absolute path without backslashes
// (which some servers read as separators), with at most a trailing slash
// (which only a pattern ending in "/{$}" matches).
func clean(p string) bool {
	if p == "" || p[0] != '/' || strings.ContainsRune(p, '\\') {
		return false
	}
	if p != "/" {
		p = strings.TrimSuffix(p, "/")
	}
	return path.Clean(p) == p
}

// plainEscapes reports whether an escaped path (URL.RawPath, "" when the
// path has no unusual escapes) escapes no separator and makes no dot
// segment.
func plainEscapes(raw string) bool {
	for seg := range strings.SplitSeq(raw, "/") {
		s, err := url.PathUnescape(seg)
		if err != nil || strings.ContainsAny(s, "/\\") || s == "." || s == ".." {
			return false
		}
	}
	return true
}

// nothing is every pattern's handler: a match only records the pattern
// and the wildcards on the request.
var nothing = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// discard is the writer of a match, which writes nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
