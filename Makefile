# vpo: build, run and test. `make help` lists the targets.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
export CGO_ENABLED := 0

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/vpo-project/vpo/internal/version.version=$(VERSION)
BIN := bin/vpo
# Reproducible man pages and package: file dates are the last commit's time.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
DEB_VERSION ?= $(shell packaging/deb-version.sh '$(VERSION)' '$(SOURCE_DATE_EPOCH)')
DEB_ARCH ?= $(shell PATH='$(PATH)' go env GOARCH)
DEB := build/vpo_$(DEB_VERSION)_$(DEB_ARCH).deb
# nfpm builds the .deb. Installed pinned into build/tools rather than required
# in go.mod: it is a build tool, not part of vpo, and its many dependencies
# have no business in vpo's module graph.
NFPM_VERSION := v2.45.2
NFPM := build/tools/nfpm-$(NFPM_VERSION)

# golangci-lint, pinned here only; `make tools` installs this version (test-deps runs it).
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(shell PATH="$(PATH)" go env GOPATH)/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)

.PHONY: help build run tools test test-deps test/go test/systemd test/load lint bench soak clean man deb

help: ## list the targets
	@grep -E '^[a-zA-Z/_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the static binary into bin/vpo
	go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/vpo

run: build ## build and run `vpo serve` on the default embedded SQLite (~/.vpo/library.db)
	./$(BIN) serve

test-deps: ## install what the tests need (ffmpeg, wrk, ...; apt-get as root) and the Go tools
	scripts/install-test-deps.sh
	$(MAKE) tools

tools: $(GOLANGCI_LINT) ## install the Go tools the targets use (golangci-lint, at GOLANGCI_LINT_VERSION)

# Built from source through the module proxy, under a versioned name, so that a
# change of GOLANGCI_LINT_VERSION installs the new one.
$(GOLANGCI_LINT):
	@mkdir -p $(dir $@)
	tmp=$$(mktemp -d) && GOBIN=$$tmp go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) \
		&& mv $$tmp/golangci-lint $@ && rmdir $$tmp

test: test-deps ## install test dependencies, then run every test (see below)
	$(MAKE) lint
	$(MAKE) test/go
	scripts/fuzz-smoke.sh
	$(MAKE) test/systemd
	$(MAKE) test/load

test/go: ## gofmt and go vet, then the whole Go suite with the race detector (unit, end-to-end, fault tests)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	CGO_ENABLED=1 go test -race -count=1 -timeout 30m ./...

test/systemd: build deb ## vpo.service under a real systemd booted in systemd-nspawn, and the .deb (root)
	test/systemd/run.sh $(BIN) $(DEB)

test/load: build ## short load (5 s) and soak (60 s) runs; `make soak` runs the long ones
	scripts/load.sh $(BIN) 5
	scripts/soak.sh $(BIN) 60

soak: build ## 60 s of wrk during two scans, a 10-minute soak, 20 SIGKILL rounds during applies (docs/reliability.md)
	scripts/load.sh $(BIN) 60
	scripts/soak.sh $(BIN) 600
	APPLY_KILL_ROUNDS=20 CGO_ENABLED=1 go test -race -count=1 -timeout 30m -run 'TestFaults/apply_kill_rounds' ./cmd/vpo/

lint: tools ## gofmt, vet and golangci-lint (.golangci.yml)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	$(GOLANGCI_LINT) run ./...

bench: build ## measure startup, RSS, throughput, shutdown, scanning and probing (see docs/benchmarks.md)
	scripts/bench-serve.sh $(BIN)
	scripts/bench-catalog.sh $(BIN)

man: ## man pages generated from the command tree into build/man (read one: man -l build/man/vpo-serve.1)
	rm -rf build/man
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) go run ./scripts/genman -dir build/man -version $(VERSION)

deb: build man $(NFPM) ## the Debian package build/vpo_VERSION_ARCH.deb (binary, units, config, man pages, completions)
	rm -rf build/deb && mkdir -p build/deb/man build/deb/completion
	for f in build/man/*.1; do gzip -9n <"$$f" >"build/deb/man/$${f##*/}.gz"; done
	$(BIN) completion bash >build/deb/completion/vpo.bash
	$(BIN) completion zsh >build/deb/completion/_vpo
	$(BIN) completion fish >build/deb/completion/vpo.fish
	rm -f build/vpo_*.deb
	VPO_DEB_VERSION='$(DEB_VERSION)' VPO_DEB_ARCH='$(DEB_ARCH)' SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) \
		$(NFPM) package --config packaging/nfpm.yaml --packager deb --target $(DEB)

$(NFPM):
	GOBIN=$(CURDIR)/build/tools go install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
	mv build/tools/nfpm $@

clean:
	rm -rf bin build
