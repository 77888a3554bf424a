# ringbridge — make run starts the product on its embedded defaults,
# make test runs every test (installing what the tests need).
GO        ?= go
GOFLAGS   ?=
BIN       := bin/ringbridge
PKGS      := ./...
APT_DEPS  := sip-tester
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test test-go test-browser deps deps-apt deps-npm lint bench clean

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

test: deps test-go

test-go:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

lint:
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./media/g711 ./media/rtpio
	$(GO) run ./bench

clean:
	rm -rf bin
