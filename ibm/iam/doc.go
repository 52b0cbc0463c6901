// Package iam speaks IBM Cloud IAM's token protocol from both sides: it
// issues and verifies RS256 access tokens shaped like IAM's (numeric iat
// and exp, iam_id, account.bss), serves the API-key grant at
// /identity/token and the JWKS at /identity/keys, and, as a client,
// exchanges an API key for a bearer token that it caches and refreshes
// before expiry.
package iam
