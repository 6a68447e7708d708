# thecure: build, run, test, benchmark. See README.md.
SHELL   := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X thecure/appliance.version=$(VERSION) -X thecure/appliance.commit=$(COMMIT)
GO      ?= go

.PHONY: build run test test-deps vet bench fuzz clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/thecure .

# The appliance on built-in defaults (or ./config.toml when there is one).
run: build
	./bin/thecure run

# Installs what the tests need (as root, with apt-get) and runs every test.
test: test-deps vet
	$(GO) test -race -count=1 -timeout 20m ./...

test-deps:
	.ci/test-deps

vet:
	$(GO) vet ./...

# Benchmarks: Go benchmarks plus scripts that print figures.
# BenchmarkColdStart measures the release binary: start to /healthz 200, idle RSS, size.
bench: build
	THECURE_BIN=$(CURDIR)/bin/thecure $(GO) test -run '^$$' -bench . -benchmem ./...
	.ci/bench-backup
	.ci/bench-ftps bin/thecure

# A short run of every fuzz target (FUZZTIME=1m for longer).
FUZZTIME ?= 20s
fuzz:
	.ci/fuzz $(FUZZTIME)

clean:
	rm -rf bin dist
