# qgov: governance gateway for Qiskit Runtime.
#
#   make run     build and start the demo (Caddyfile.example)
#   make test    vet, format check and every test (what CI runs)
#   make bench   gateway vs plain reverse_proxy polling and submission; admission, audit and circuit-reading cost; simulator throughput
#   make fuzz    a short run of every fuzz target

include xcaddy.mk

GO        ?= go
FUZZTIME  ?= 20s
STATICCHECK_VERSION ?= v0.8.2
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: build run test test-deps vet fmt bench fuzz clean

build: caddy-build

run: caddy-run

vet:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# test-deps installs what the tests run against: redis-server and
# redis-cli (the tests start their own servers and clusters on free
# ports), and Chromium for the console's browser tests.
test-deps:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { \
		echo "installing redis-server from Debian packages"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || { \
		echo "installing chromium from Debian packages"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

test: test-deps vet caddy-validate xcaddy-build
	$(GO) test -race -count=1 -timeout 30m ./...

fmt: caddy-fmt
	gofmt -w .

bench:
	$(GO) test -run '^$$' -bench HotPath -benchtime 1x ./e2e/
	$(GO) test -run '^$$' -bench . -benchtime 5000x ./quota/
	$(GO) test -run '^$$' -bench . -benchtime 20000x ./policy/
	$(GO) test -run '^$$' -bench . -benchtime 20000x ./audit/
	$(GO) test -run '^$$' -bench DecodeMaxSubmission -benchtime 3x ./ibm/runtimeapi/
	$(GO) test -run '^$$' -bench . -benchtime 20x ./simulator/statevector/
	$(GO) test -run '^$$' -bench . -benchtime 200x ./simulator/

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./circuit/
	$(GO) test -run '^$$' -fuzz '^FuzzParseQPY$$' -fuzztime $(FUZZTIME) ./circuit/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeJob$$' -fuzztime $(FUZZTIME) ./ibm/runtimeapi/
	$(GO) test -run '^$$' -fuzz '^FuzzOneReading$$' -fuzztime $(FUZZTIME) ./internal/strictjson/

clean:
	rm -rf bin
