// Package caddymodule holds qgov's Caddy modules; it is the only package
// that imports Caddy.
package caddymodule
