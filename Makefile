# ringbridge — make run starts the product on its embedded defaults,
# make test runs every test (installing what the tests need).
GO        ?= go
GOFLAGS   ?=
BIN       := bin/ringbridge
PKGS      := ./...
APT_DEPS  := sip-tester chromium
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test test-go test-browser test-net test-cluster bench-cluster deps deps-apt deps-npm lint fuzz bench clean

all: build

build:
	$(GO) build -o $(BIN) .

run: build
	./$(BIN) serve

# Debian packages the tests drive as real peers (SIPp, Chromium).
deps-apt:
	@missing=""; for p in $(APT_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

deps-npm:
	@if [ -f package.json ]; then npm ci --no-audit --no-fund --loglevel=error; fi

deps: deps-apt
	$(GO) mod download

test: deps test-go test-browser

test-go:
	$(GO) vet $(PKGS)
	$(GO) build -o $(BIN) .
	RB_BIN=$(BIN) $(GO) test -race -count=1 -timeout 20m $(PKGS)

# Browser tests of the softphone widget (frontend/test/): playwright-core
# from npm drives Debian's chromium (never a downloaded browser) against the
# real binary, with a fake microphone the tests generate. Screenshots land
# in test-results/browser/. The glob is expanded by the shell: node >= 21
# no longer searches a directory given to --test.
CHROMIUM ?= /usr/bin/chromium
test-browser: build
	@[ -d node_modules/playwright-core ] || $(MAKE) deps-npm
	@command -v $(CHROMIUM) >/dev/null || { echo "test-browser needs $(CHROMIUM) (Debian package chromium)"; exit 1; }
	RB_BIN=$(BIN) RB_CHROMIUM=$(CHROMIUM) node --test --test-concurrency=1 frontend/test/*.test.js

# The network suite (nettest/, build tag nettest): real networks built
# from namespaces — a NAT router (MASQUERADE, SNAT), a UDP firewall, coturn
# as a TURN relay — with the real binary as the server and pion agents,
# the widget in Chromium and SIP carriers in their own namespaces. Needs root; skips, saying why,
# where namespaces cannot be created. About a minute.
NET_APT_DEPS := iproute2 iptables conntrack coturn chromium
test-net: build
	@$(MAKE) --no-print-directory deps-apt APT_DEPS="$(NET_APT_DEPS)"
	@[ -d node_modules/playwright-core ] || $(MAKE) --no-print-directory deps-npm
	$(GO) vet -tags nettest ./nettest/
	RB_BIN=$(CURDIR)/$(BIN) $(GO) test -tags nettest -race -count=1 -timeout 5m -v ./nettest/

# Several nodes on PostgreSQL and NATS behind Kamailio (docs/scale-out.md):
# the shared store suite, the NATS bus and session directory, and the
# product's cluster tests (-tags cluster), on a throwaway PostgreSQL 15
# server, nats-server (JetStream) and Kamailio (examples/kamailio) that the
# tests start on loopback (temporary directories, free ports, stopped by
# their PIDs). About two and a half minutes.
CLUSTER_APT_DEPS := postgresql-15 nats-server kamailio
test-cluster: build
	@$(MAKE) --no-print-directory deps-apt APT_DEPS="$(CLUSTER_APT_DEPS)"
	$(GO) vet -tags cluster ./cti/store/... ./cti/natsbus/... .
	$(GO) test -tags cluster -race -count=1 -timeout 10m ./cti/store/postgres/... ./cti/natsbus/...
	RB_BIN=$(BIN) $(GO) test -tags cluster -race -count=1 -timeout 10m -run '^TestCluster' .

lint:
	@files=$$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path '*/node_modules/*'); \
	unformatted=$$([ -z "$$files" ] || "$$($(GO) env GOROOT)/bin/gofmt" -l $$files); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

# Fuzz targets of the parsers that take outside input, as package:target.
# `make test` runs their seed corpora; `make fuzz` explores each for
# FUZZTIME (go test allows one -fuzz target per run). A failure leaves the
# input under the package's testdata/fuzz/, where it becomes a seed:
# commit it with the fix.
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	./server/wsproto:FuzzDecode \
	./server:FuzzVerifyJWT \
	./server:FuzzParseBasic \
	./server:FuzzOriginPolicy \
	./server:FuzzLoginBody \
	./server:FuzzWebhookBody \
	./cti/webhook:FuzzConfig \
	./cti:FuzzNormalizeE164 \
	./cti:FuzzParseUsersCSV \
	./media/trunk:FuzzParseSDP \
	./media/trunk:FuzzSIPRequest \
	./media/rtpio:FuzzReaderDeliver \
	./media/rtpio:FuzzUDPLegReadPath \
	./media/dtmf:FuzzTelephoneEvent
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./media/g711 ./media/rtpio
	$(GO) test -run '^$$' -bench OutboxThroughput -benchtime 20000x ./cti/webhook
	$(GO) test -run '^$$' -bench DurablePublish -benchtime 20000x ./cti/webhook
	$(GO) test -run '^$$' -bench QueueRouting -benchtime 500x ./cti
	$(GO) test -run '^$$' -bench SupervisorFeed -benchtime 2000x ./cti
	$(GO) test -run '^$$' -bench SupervisorWebsocket -benchtime 2000x ./server
	$(GO) test -run '^$$' -bench ScreenPop -benchtime 300x ./media
	$(GO) run ./bench $(BENCH_ARGS)
	@$(MAKE) --no-print-directory bench-cluster

# Several nodes behind Kamailio on PostgreSQL and NATS (docs/scale-out.md):
# calls per second and CPU per held call with 1, 2 and 3 nodes, agent
# failover time. About three minutes.
bench-cluster: build
	@$(MAKE) --no-print-directory deps-apt APT_DEPS="$(CLUSTER_APT_DEPS)"
	RB_BIN=$(BIN) RB_BENCH_CLUSTER=1 $(GO) test -tags cluster -count=1 -timeout 15m -v -run '^TestBenchClusterScale$$' .

clean:
	rm -rf bin
