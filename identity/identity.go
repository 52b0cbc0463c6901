// Package identity establishes who is calling: users of OpenID Connect
// providers (such as IBM App ID) and IBM Cloud IAM, by bearer token or by
// a browser sign-in session; API keys, declared in configuration or
// created by users for themselves; and the IAM-compatible access tokens
// qgov issues for keys. It also holds the network rules on where callers
// may call from.
package identity
