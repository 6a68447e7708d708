# thecure: build, run, test, benchmark. See README.md.
SHELL   := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X thecure/appliance.version=$(VERSION) -X thecure/appliance.commit=$(COMMIT)
GO      ?= go

.PHONY: build run test test-deps test-deb vet bench fuzz clean deb hlsjs uplot soak

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/thecure .

# The appliance on built-in defaults (or ./config.toml when there is one).
run: build
	./bin/thecure run

# The Debian package: dist/thecure_$(DEB_VERSION)_amd64.deb (see packaging/).
# nfpm is a pinned build tool run with `go run`: not in go.mod, never linked
# into thecure. The conffile is generated from config.toml.example.
DEB_VERSION ?= $(shell packaging/deb-version)
DIST        ?= dist
PKG         := $(DIST)/pkg
EXAMPLE     ?= config.toml.example
NFPM        := $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

deb:
	rm -rf $(PKG) && mkdir -p $(PKG)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(PKG)/thecure .
	$(GO) run ./packaging/genconfig -example $(EXAMPLE) -overrides packaging/production.toml -o $(PKG)/config.toml
	gzip -9n < packaging/thecure.1 > $(PKG)/thecure.1.gz
	gzip -9n < packaging/changelog > $(PKG)/changelog.gz
	THECURE_BUILD=$(PKG) DEB_VERSION=$(DEB_VERSION) $(NFPM) package --config packaging/nfpm.yaml \
		--packager deb --target $(DIST)/thecure_$(DEB_VERSION)_amd64.deb
	rm -rf $(PKG)

# Only the package's tests (as root): build, lintian, systemd-analyze, and
# install/upgrade/remove/purge in a debootstrap root.
test-deb: test-deps
	$(GO) test -count=1 -v -timeout 20m ./packaging/...

# Installs what the tests need (as root, with apt-get) and runs every test.
test: test-deps vet
	$(GO) test -race -count=1 -timeout 20m ./...

test-deps:
	.ci/test-deps

vet:
	$(GO) vet ./...

# Benchmarks: Go benchmarks plus scripts that print figures.
# BenchmarkColdStart measures the release binary: start to /healthz 200, idle RSS, size.
# .ci/bench-web: req/s for the catalogue page and a VOD segment, beside nginx.
# .ci/bench-dns: DNS queries per CPU-second beside NSD.
# appliance/publish: live segment close -> readable in S3 and VOD MB/s, beside plain PUTs (gofakes3).
# .ci/bench-latency: live latency through hls.js in Chromium beside MediaMTX.
# .ci/bench-channels: CPU and RSS per playout channel (10 at 720p), the gap at a title change.
bench: build
	THECURE_BIN=$(CURDIR)/bin/thecure $(GO) test -run '^$$' -bench . -benchmem ./...
	.ci/bench-backup
	.ci/bench-include-media bin/thecure
	.ci/bench-ftps bin/thecure
	.ci/bench-live bin/thecure
	.ci/bench-latency bin/thecure
	.ci/bench-channels bin/thecure
	THECURE_BIN=$(CURDIR)/bin/thecure .ci/bench-web
	.ci/bench-dns bin/thecure

# The soak (not in `make test`): the release binary under combined load and
# faults for SOAK_DURATION (10m), then a table; fails on any loss. As root
# (it mounts a tmpfs for the full-disk fault). Knobs: SOAK_UPLOADERS (50),
# SOAK_PUBLISHERS (5), SOAK_PLAYERS (100), SOAK_VIEWERS (500), SOAK_BOT_USERS (20),
# SOAK_BACKUP_EVERY (2m), SOAK_FILM_EVERY (10s), SOAK_DISK_MIB (6144); SOAK_LOG=FILE keeps
# the appliance's log. See .ci/soak/soak_test.go.
soak: build
	THECURE_BIN=$(CURDIR)/bin/thecure $(GO) test -tags soak -count=1 -v -timeout 90m -run TestSoak ./.ci/soak/

# A short run of every fuzz target (FUZZTIME=1m for longer).
FUZZTIME ?= 20s
fuzz:
	.ci/fuzz $(FUZZTIME)

# Re-fetches the vendored hls.js (npm pack) and checks it against the
# SHA-256 sums recorded in appliance/webui/static/vendor/hls.js/SHA256SUMS.
hlsjs:
	.ci/hlsjs

# Re-fetches the vendored uPlot (the admin charts) the same way, checked
# against appliance/webui/static/vendor/uplot/SHA256SUMS.
uplot:
	.ci/uplot

clean:
	rm -rf bin dist
