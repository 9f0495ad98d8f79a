# Vigil — see README.md. `make run` and `make test` are the two set-up commands.
SHELL := /bin/bash
GO ?= go
GOTESTFLAGS ?=
FUZZTIME ?= 60s
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/vigil-sh/vigil/internal/buildinfo.Version=$(VERSION) \
           -X github.com/vigil-sh/vigil/internal/buildinfo.Revision=$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

.PHONY: all build run test test-deps lint unit fuzz fuzz-short bench fault-bench load footprint footprint-vs-exporters bench-remote-write generate clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/app ./cmd/app
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/agent ./cmd/agent

## run: the app on embedded defaults (FerretDB under ./data, in-process cache) and the agent beside it.
run: build
	./scripts/run.sh

## test: install what the tests need, static checks, the whole suite with -race, a short fuzz of every target.
test: test-deps lint unit fuzz-short

test-deps:
	./scripts/install-test-deps.sh
	@# The upstream exporters of the parity tests, into the Go build cache
	@# (~45 s cold, ~1 s warm) before the packages' tests run in parallel.
	for t in redis_exporter node_exporter blackbox_exporter; do $(GO) -C tools/exporters tool -n $$t >/dev/null || exit 1; done
	@# Percona's mongodb_exporter needs a build list of its own (tools/mongodbexporter/README.md).
	$(GO) -C tools/mongodbexporter tool -n mongodb_exporter >/dev/null

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

unit:
	$(GO) test -race -timeout 25m $(GOTESTFLAGS) ./...

fuzz-short:
	FUZZTIME=5s ./scripts/fuzz.sh

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# e2e's BenchmarkFaultToPage compares two agent builds: make fault-bench.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list ./... | grep -v '/e2e$$')

## fault-bench: RedisDown fault to page, the agent at REV vs this tree (RUNS each, at once).
fault-bench:
	./scripts/fault-bench.sh $(REV) $(RUNS)

load: build
	./scripts/load.sh

## footprint: the agent's RSS and CPU with 10 targets at 15 s over 5 minutes.
footprint: build
	./scripts/footprint.sh 300

## footprint-vs-exporters: the agent's RSS against redis_exporter + node_exporter + blackbox_exporter + mongodb_exporter on the same targets.
footprint-vs-exporters: build
	./scripts/footprint-vs-exporters.sh 120

## bench-remote-write: CPU per million samples delivered and RSS, the agent against Prometheus 2.42 in agent mode, one receiver.
bench-remote-write: build
	./scripts/bench-remote-write.sh $(or $(BENCH_SECONDS),180)

# Kubernetes manifests are derived from the rule files and dashboards: last.
generate:
	$(GO) generate ./rules/... ./dashboards/...
	$(GO) generate ./deploy/k8s/...

clean:
	rm -rf bin data
