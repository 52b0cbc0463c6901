# qgov: governance gateway for Qiskit Runtime.
#
#   make run     build and start the demo (Caddyfile.example)
#   make test    vet, format check and every test (what CI runs)
#   make bench   simulator throughput as a fraction of memory bandwidth
#   make fuzz    a short run of every fuzz target

include xcaddy.mk

GO        ?= go
FUZZTIME  ?= 20s

.PHONY: build run test vet fmt bench fuzz clean

build: caddy-build

run: caddy-run

vet:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

test: vet caddy-validate
	$(GO) test -race -count=1 -timeout 30m ./...

fmt: caddy-fmt
	gofmt -w .

bench:
	$(GO) test -run '^$$' -bench . -benchtime 20x ./statevector/
	$(GO) test -run '^$$' -bench . -benchtime 200x ./simulator/

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./circuit/
	$(GO) test -run '^$$' -fuzz '^FuzzParseQPY$$' -fuzztime $(FUZZTIME) ./circuit/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeJob$$' -fuzztime $(FUZZTIME) ./runtimeapi/

clean:
	rm -rf bin
