# rpcproxy build contract. `make run` and `make test` are the two commands a
# newcomer needs; everything else they need is installed from here.

SHELL     := /bin/bash
GO        ?= go
BIN       := $(CURDIR)/bin
PKGS      := ./...
FUZZTIME  ?= 10s
# FUZZMINIMIZE caps minimizing each new input: FuzzDatagram keeps state
# between inputs, so minimizing it replays in vain for the default 60s.
FUZZMINIMIZE ?= 5s
BENCHTIME ?= 300ms
BENCHCOUNT ?= 6
TESTTIMEOUT ?= 8m

# VK's module is in the module proxy but not in the checksum database; go.sum
# pins its hash (equal to the one in VK's own go.sum).
export GONOSUMDB := github.com/VKCOM/tl
export GOBIN := $(BIN)

BENCHSTAT_VERSION   := v0.0.0-20260908200009-22c9c6c9d4da
STATICCHECK_VERSION := v0.8.2

.PHONY: all build test run bench fuzz lint tools clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

test:
	$(GO) vet $(PKGS)
	$(GO) test -race -timeout $(TESTTIMEOUT) $(PKGS)
	@# Two kinds of test skip themselves under -race and run here without it:
	@# the zero-allocation tests (named *Alloc*: the race detector makes
	@# sync.Pool drop items on purpose) and the interop tests against VK's
	@# UDP transport (named *Interop*: VK's own UDP code has data races).
	$(GO) test -count=1 -timeout $(TESTTIMEOUT) -run 'Alloc|Interop' $(PKGS)

# run is the demo (scripts/demo.sh): 4 memcache engines and the proxy on
# loopback, a scripted rpccall session, then serving until Ctrl-C.
# DEMO_HOLD=0 exits after the session (the default without a terminal).
run: build
	@BIN=$(BIN) scripts/demo.sh

# bench-proxy measures the proxy against direct engine access with
# docs/peers.md §2's method (scripts/bench-proxy.sh; RUNS, DURATION and
# WARMUP override its 5 runs of 1s + 8s; SHARDS, MGET, COALESCE, NETWORK,
# ENGINE_TRANSPORT, KEYHASH, RATE and RELAY are described in the script). Not part
# of `make test`.
.PHONY: bench-proxy
bench-proxy: build
	@BIN=$(BIN) scripts/bench-proxy.sh

bench: $(BIN)/benchstat
	@mkdir -p $(BIN)
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) $(PKGS) | tee $(BIN)/bench.txt
	$(BIN)/benchstat $(BIN)/bench.txt

# fuzz runs every Fuzz target of every package for FUZZTIME each
# (FUZZMINIMIZE per new input found).
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg; \
	  done; \
	done

lint: $(BIN)/staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(BIN)/staticcheck $(PKGS)

tools: $(BIN)/benchstat $(BIN)/staticcheck

$(BIN)/benchstat:
	$(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)

$(BIN)/staticcheck:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

clean:
	rm -rf $(BIN) .run
