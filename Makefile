# vpo: build, run and test. `make help` lists the targets.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
export CGO_ENABLED := 0

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/vpo-project/vpo/internal/version.version=$(VERSION)
BIN := bin/vpo

.PHONY: help build run test test-deps test/go test/race lint bench clean

help: ## list the targets
	@grep -E '^[a-zA-Z/_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the static binary into bin/vpo
	go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/vpo

run: build ## build and run `vpo serve` on the default embedded SQLite (~/.vpo/library.db)
	./$(BIN) serve

test-deps: ## install what the tests need (ffmpeg, wrk, ...; apt-get as root)
	scripts/install-test-deps.sh

test: test-deps ## install test dependencies, then vet and run every test with the race detector
	go vet ./...
	CGO_ENABLED=1 go test -race -count=1 -timeout 20m ./...
	scripts/fuzz-smoke.sh

lint: ## gofmt and vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

bench: build ## measure startup, RSS, /health throughput and shutdown (see docs/benchmarks.md)
	scripts/bench-serve.sh $(BIN)

clean:
	rm -rf bin
