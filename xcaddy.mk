# Building the qgov Caddy binary. Included by the Makefile; every target is
# prefixed caddy- (or xcaddy-) so it cannot collide with the main targets.

CADDY_VERSION ?= v2.11.9
MODULE        := github.com/qgov/qgov
BIN           ?= bin/qgov
# xcaddy's default build flags.
GOFLAGS_BUILD ?= -trimpath -ldflags "-w -s" -tags nobadger,nomysql,nopgx
# The demo's upstream API key: the bundled simulator's dev-only key.
QGOV_DEMO_UPSTREAM_KEY ?= demo-upstream-key
QGOV_DEMO_OIDC_SECRET ?= demo-oidc-secret
export QGOV_DEMO_UPSTREAM_KEY QGOV_DEMO_OIDC_SECRET

.PHONY: caddy-build xcaddy-build caddy-modules caddy-validate caddy-fmt caddy-run

# caddy-build: Caddy's main plus the standard modules and qgov's (cmd/qgov).
caddy-build:
	go build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/qgov

XCADDY_VERSION ?= v0.4.5
XCADDY         := $(shell go env GOPATH)/bin/xcaddy
XCADDY_BIN     ?= bin/qgov-xcaddy

# xcaddy-build: the binary a Caddy user builds with xcaddy, from this
# checkout (xcaddy pins it with a replace): it must list qgov's modules.
xcaddy-build:
	go install github.com/caddyserver/xcaddy/cmd/xcaddy@$(XCADDY_VERSION)
	cd $$(mktemp -d) && $(XCADDY) build $(CADDY_VERSION) --output $(CURDIR)/$(XCADDY_BIN) --with $(MODULE)@v0.0.0=$(CURDIR)
	$(XCADDY_BIN) list-modules | grep -q '^qgov$$'
	$(XCADDY_BIN) list-modules | grep -q '^http.handlers.qgov$$'

# caddy-modules: prove qgov's modules are registered.
caddy-modules: caddy-build
	$(BIN) list-modules | grep qgov

# caddy-validate: adapt and validate Caddyfile.example. Validation opens
# neither the store nor the audit trail, so it runs beside `make run`.
caddy-validate: caddy-build
	$(BIN) validate --config Caddyfile.example

# caddy-fmt: format Caddyfile.example in place.
caddy-fmt: caddy-build
	$(BIN) fmt --overwrite Caddyfile.example

# caddy-run: run the demo configuration.
caddy-run: caddy-build
	$(BIN) run --config Caddyfile.example
