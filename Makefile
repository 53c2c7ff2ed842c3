# onepass — the two commands a newcomer needs are `make run` and `make test`.
export PATH := /usr/local/go/bin:$(PATH)
GO      ?= go
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN     := bin
DATA    ?= .run
LISTEN  ?= 127.0.0.1:8080

.PHONY: setup build run test bench lint fuzz clean deb release-check

setup:
	@scripts/dev-setup.sh

build: setup
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

# The kiosk on simulated hardware with a local database in $(DATA); prints the screen's URL.
run: build
	$(BIN)/onepassd --sim --data $(DATA) --listen $(LISTEN)

# The whole suite: formatting, vet, unit, fuzz seed corpora, the kill -9 test and the browser tests.
test: setup lint
	$(GO) test -count=1 -timeout 15m ./...

# The kiosk package for this machine's architecture (dist/onepass_VERSION_ARCH.deb).
deb: setup
	scripts/package.sh --out dist

# Release checks too slow for every CI run (see README, "Installing a kiosk"): the arm64 cross build
# (cgo; installs the cross compiler, qemu-user and OpenCV's arm64 packages on first use), each
# binary smoke-tested (arm64 under qemu-user), and both packages.
release-check: setup
	scripts/build.sh --arch all --smoke --out dist
	scripts/package.sh --arch amd64 --out dist
	scripts/package.sh --arch arm64 --out dist

# The hub's benchmarks load 10,000,000 status rows into PostgreSQL and poll with 1,000 kiosks for
# minutes: more than go test's default 10-minute limit per package.
bench: setup
	$(GO) test -run '^$$' -bench . -benchtime 2s -timeout 60m ./... | tee bench.out | grep -E '^(Benchmark|ok|FAIL|pkg:)'

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Run each fuzz target for a while (FUZZTIME=30s by default). Each new input that widens coverage
# is minimised first, for up to FUZZMINIMIZE, with the exec counter frozen meanwhile: with Go's
# default 60 s a slow target (the camera decoders) looked hung for a minute.
FUZZTIME ?= 30s
FUZZMINIMIZE ?= 5s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg || exit 1; \
	  done; done

clean:
	rm -rf $(BIN) $(DATA) bench.out dist
