# Phoenix build, test and demo entry points. The README's two commands are
# `make demo` and `make test`; everything else is for developers.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO        ?= go
# Every binary is static (no C library), so the same bin/ runs on any Linux
# and goes into the images as it is. The end-to-end tests build with the same
# setting and share the build cache; only the race-detector run needs cgo.
STATIC    := CGO_ENABLED=0
BIN       := bin
BUILD_DIR := _build
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/phoenix/platform/cli/cmd/version.Version=$(VERSION)

# Packages with a component or pure logic run under the race detector; the
# packages that link the whole collector distribution run without it, which
# keeps a cold `make test` well inside CI's budget on two cores.
RACE_PKGS = ./processors/... ./receivers/... ./extensions/... ./opamp-server/... ./cli/...
HEAVY_PKGS = ./pipelines/... ./test/...

DISTRIBUTION_PKG := pipelines/distribution

.PHONY: build collector phoenix loadworker supervisor generate generate-collector generate-components \
        check-generated test unit-test e2e-test test-deps lint fuzz bench bench-fleet bench-fleet-experiment demo images clean

# Debian packages the tests need, installed when missing: PostgreSQL 15 for
# the store tests (started as a throwaway cluster by the tests themselves),
# Chromium for rendering experiment reports, Prometheus for the dashboard
# and recording-rule tests, systemd-analyze for verifying the units, and CA
# certificates for the images.
TEST_DEBS := postgresql-15:/usr/lib/postgresql/15/bin/initdb chromium:/usr/bin/chromium prometheus:/usr/bin/prometheus \
             systemd:/usr/bin/systemd-analyze ca-certificates:/etc/ssl/certs/ca-certificates.crt

## build: the collector distribution, the phoenix CLI (with its load worker) and the OpAMP supervisor into bin/
build: collector phoenix loadworker supervisor

collector: generate-collector
	$(STATIC) $(GO) build -trimpath -o $(BIN)/phoenix-collector ./$(BUILD_DIR)

phoenix: loadworker
	$(STATIC) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/phoenix ./cli

# The process `phoenix loadsim run` starts per simulated process: standard
# library only and stripped, so thousands of them cost little (see
# docs/load-simulation.md).
loadworker:
	$(STATIC) $(GO) build -trimpath -ldflags '-s -w' -o $(BIN)/phoenix-loadworker ./cli/loadworker

supervisor:
	$(STATIC) $(GO) build -trimpath -o $(BIN)/opampsupervisor github.com/open-telemetry/opentelemetry-collector-contrib/cmd/opampsupervisor

## generate: OCB sources for the collector, the checked-in component list, mdatagen code
generate: generate-collector generate-components
	$(GO) generate ./processors/... ./receivers/... ./extensions/... ./opamp-server/api

# OCB's own module download fails on these machines (it asks for modules that
# are not served), and the repository is one module anyway: generate sources
# only and let the go toolchain resolve everything from go.mod.
generate-collector:
	$(GO) tool builder --config builder-config.yaml --skip-get-modules --skip-compilation >/dev/null 2>$(BUILD_DIR).log || { cat $(BUILD_DIR).log; exit 1; }
	@rm -f $(BUILD_DIR).log

# The distribution's factories, importable in process by the CLI and server:
# OCB's generated components.go, renamed into a library package.
generate-components: generate-collector
	sed -e 's/^package main$$/package distribution/' \
	    -e 's/^func components() (otelcol.Factories, error) {$$/\/\/ Components returns the factories of every component in builder-config.yaml.\nfunc Components() (otelcol.Factories, error) {/' \
	    $(BUILD_DIR)/components.go > $(DISTRIBUTION_PKG)/components_generated.go
	gofmt -w $(DISTRIBUTION_PKG)/components_generated.go

## check-generated: regenerate and fail if anything checked in changed
check-generated: generate
	@if [ -n "$$(git status --porcelain)" ]; then \
	  echo "generated files differ from what is committed; run 'make generate' and commit:"; \
	  git status --porcelain; git --no-pager diff --stat; exit 1; fi

## test: everything CI checks: generated code, lint, unit, race and end-to-end tests
test: check-generated lint build unit-test e2e-test

## test-deps: install the Debian packages tests need, if missing
test-deps:
	@missing=""; for dep in $(TEST_DEBS); do pkg=$${dep%%:*}; file=$${dep#*:}; \
	  [ -e "$$file" ] || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

unit-test: test-deps
	$(GO) test -race -count=1 -coverprofile=coverage.out $(RACE_PKGS)
	@$(GO) tool cover -func=coverage.out | tail -n 1

# End-to-end packages run one at a time (-p 1): they start real collectors,
# supervisors and simulated load on this host, and two at once on two cores
# would turn timing into flakiness.
e2e-test: build images test-deps
	$(STATIC) $(GO) test -p 1 -count=1 -timeout 30m $(HEAVY_PKGS)

## lint: gofmt, go vet and staticcheck
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(STATIC) $(GO) vet ./...
	$(STATIC) $(GO) tool staticcheck ./...

## fuzz: every Go fuzz test for FUZZTIME each (default 1m); make test runs
## only their seed corpora, as ordinary tests
FUZZTIME ?= 1m
fuzz:
	@set -e; for f in $$(git grep -l '^func Fuzz' -- '*_test.go'); do \
	  for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "fuzzing ./$$(dirname $$f) $$fn for $(FUZZTIME)"; \
	    $(STATIC) $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f); \
	  done; \
	done

## bench: processor and receiver benchmarks (compare runs with benchstat)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=6 ./processors/... ./receivers/... | tee bench.txt

## bench-fleet: the control plane with a simulated fleet (FLEETBENCH_AGENTS,
## default 10000) on both stores, an experiment's whole lifecycle over that
## fleet on both stores, and opamp-go's example server beside it when
## FLEETBENCH_PEER names its binary (docs/architecture.md); about 35 minutes
bench-fleet: phoenix test-deps
	$(GO) test -run '^$$' -bench '^(BenchmarkFleet|BenchmarkPeer)$$' -benchtime 1x -timeout 60m ./test/fleetbench | tee bench-fleet.txt

## bench-fleet-experiment: an experiment's deploy, analysis and restore over
## the simulated fleet (FLEETBENCH_AGENTS) on both stores; about 20 minutes
## at 10,000 agents (docs/architecture.md)
bench-fleet-experiment: phoenix test-deps
	$(GO) test -run '^$$' -bench '^BenchmarkFleetExperiment$$' -benchtime 1x -timeout 60m ./test/fleetbench | tee bench-fleet-experiment.txt

IMAGE_TAG ?= $(VERSION)

## images: the phoenix-collector and phoenix-server images as OCI layouts and
## tarballs in bin/images, built from bin/ without a container engine
images: build
	$(GO) run ./deployments/images --bin-dir $(BIN) --out $(BIN)/images \
	  --version $(IMAGE_TAG) --revision "$$(git rev-parse HEAD 2>/dev/null || true)"

## demo: build, then run Phoenix on this host and print what it saves
demo: build
	$(BIN)/phoenix demo

clean:
	rm -rf $(BIN) $(BUILD_DIR) coverage.out bench.txt bench-fleet.txt bench-fleet-experiment.txt
