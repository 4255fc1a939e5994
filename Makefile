# ynhd build, test and install. Run `make help` for the targets.

GO      ?= go
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
# User units: a system-wide prefix installs into lib/systemd/user, a
# per-user one (PREFIX=~/.local) into share/systemd/user; both are on the
# user manager's unit path.
ifeq ($(PREFIX),$(HOME)/.local)
USERUNITDIR ?= $(PREFIX)/share/systemd/user
else
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
endif
# System mode's unit (make install-system).
SYSTEMUNITDIR ?= $(PREFIX)/lib/systemd/system
# Man pages: ynhd(1) and one per command, ynhd.toml(5), ynhd-system(8).
MANDIR ?= $(PREFIX)/share/man
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
# make deb: where the package, its staged tree and its binary go, and its
# Maintainer field (default: the last commit's author).
DEBDIR ?= build
DEB_MAINTAINER ?=
DEB_REVISION ?= 1

# The podman API bindings only build without cgo headers (btrfs,
# devicemapper, gpgme) with these tags; every go command here passes them.
TAGS := remote exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper containers_image_openpgp
GOFLAGS_TAGS := -tags "$(TAGS)"
LDFLAGS := -X github.com/ynhd/ynhd/internal/cli.version=$(VERSION)

TESTFLAGS ?= -count=1 -timeout 40m
FUZZTIME  ?= 30s

.PHONY: all build man install-man deb test test-unit test-system soak lint install install-system uninstall demo fuzz golden schema bench testenv-up testenv-down clean help

all: build

help:
	@echo "make build         build bin/ynhd"
	@echo "make man           man pages into build/man (ynhd.1, ynhd-COMMAND.1, ynhd.toml.5, ynhd-system.8)"
	@echo "make test          lint + every test, integration tests included (as root: starts the test environment)"
	@echo "make test-unit     lint + the tests that need no root and no environment"
	@echo "make test-system   system mode and lingering in a Debian booted with systemd (root)"
	@echo "make demo          run configs/demo/hello.toml through ynhd's unit in the test environment (root)"
	@echo "make install       install ynhd, its user unit and its man pages under \$$DESTDIR\$$PREFIX (PREFIX=$(PREFIX); PREFIX=~/.local needs no root)"
	@echo "make deb           a Debian package, \$$DEBDIR/ynhd_VERSION-1_ARCH.deb (DEBDIR=$(DEBDIR); see packaging/README.md)"
	@echo "make install-system  install ynhd and its system-mode unit (root; declarations in /etc/ynhd)"
	@echo "make soak          100 apps changed at random for 10 minutes, ynhd restarted every 2 (root; YNHD_SOAK_MINUTES, YNHD_SOAK_APPS)"
	@echo "make fuzz          fuzz decode+validate+render for \$$FUZZTIME ($(FUZZTIME))"
	@echo "make golden        rewrite the golden unit files after an intended rendering change"
	@echo "make schema        regenerate schema/ynhd.schema.json from the declaration types"
	@echo "make bench         Go benchmarks, then ynhd against raw podman/systemctl in the test environment (root)"
	@echo "make testenv-up / testenv-down   start / stop the test environment by hand"

build:
	$(GO) build $(GOFLAGS_TAGS) -trimpath -ldflags "$(LDFLAGS)" -o bin/ynhd ./cmd/ynhd

# The pages come from the commands' own help and from docs/declarations.md
# and docs/system-mode.md; they are generated, never edited (plain roff,
# not compressed: packaging compresses if it wants to).
man:
	rm -rf build/man
	$(GO) run $(GOFLAGS_TAGS) ./internal/genman docs build/man

install-man: man
	install -d -m 0755 $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 build/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 build/man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 build/man/*.8 $(DESTDIR)$(MANDIR)/man8/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(GOFLAGS_TAGS) ./...

# As root, the integration packages bring the test environment up
# themselves (internal/testenv); it is brought up first here so that a
# broken environment fails fast with its own log.
test: lint
	@rc=0; root=; [ "$$(id -u)" = 0 ] && root=1; \
	if [ -n "$$root" ]; then bash hack/testenv.sh up --transient || exit 1; fi; \
	$(GO) test $(GOFLAGS_TAGS) $(TESTFLAGS) ./... || rc=$$?; \
	if [ -n "$$root" ]; then bash hack/testenv.sh down --if-unused || true; fi; \
	exit $$rc

# System mode and logind in a Debian booted with systemd (root; see
# hack/bootenv.sh). `make test` runs it too.
test-system: lint
	$(GO) test $(GOFLAGS_TAGS) $(TESTFLAGS) -v ./test/system/

test-unit: lint
	$(GO) test $(GOFLAGS_TAGS) $(TESTFLAGS) ./internal/decl/ ./internal/units/ ./internal/podman/ ./internal/cli/ ./internal/sysuser/ ./internal/export/ ./internal/importer/ ./internal/keep/ ./internal/schema/ ./internal/update/

# Not part of `make test`: random changes to 100 apps for 10 minutes with
# ynhd restarted every 2, then leaks, volume data and ynhd's memory and
# descriptors (test/soak; root).
soak: lint
	YNHD_SOAK=1 $(GO) test $(GOFLAGS_TAGS) -count=1 -timeout 30m -v ./test/soak/

fuzz:
	$(GO) test $(GOFLAGS_TAGS) ./internal/units/ -run '^$$' -fuzz FuzzDecodeRender -fuzztime $(FUZZTIME)

golden:
	$(GO) test $(GOFLAGS_TAGS) ./internal/units/ -run TestGolden -update

# The JSON Schema of declarations, generated from the Go types (a test in
# internal/schema fails when the published file differs).
schema:
	cd internal/schema && $(GO) generate

# Pure-path Go benchmarks, then the real-environment suite (test/bench),
# which prints a table and leaves bench-results.json and .txt here.
bench:
	$(GO) test $(GOFLAGS_TAGS) -run '^$$' -bench . -benchmem -count 5 ./internal/units/ ./internal/reconcile/ | tee bench-go.txt
	YNHD_BENCH=1 $(GO) test $(GOFLAGS_TAGS) -count=1 -timeout 60m -v -run TestBench ./test/bench/
	cp /var/tmp/ynhd-bench-out/bench.json bench-results.json
	cp /var/tmp/ynhd-bench-out/bench.txt bench-results.txt

install: build install-man
	bash packaging/install.sh bin/ynhd "$(DESTDIR)" "$(BINDIR)" "$(USERUNITDIR)"

install-system: build install-man
	bash packaging/install.sh --system bin/ynhd "$(DESTDIR)" "$(BINDIR)" "$(SYSTEMUNITDIR)"

# A binary .deb built with dpkg-deb from a staged tree (packaging/deb.sh).
# The binary is built as Debian builds Go programs (PIE, no symbol table);
# man pages come from `make man` when this tree has that target, and
# whatever build/man holds otherwise.
deb:
	$(GO) build $(GOFLAGS_TAGS) -trimpath -buildmode=pie -ldflags "$(LDFLAGS) -s -w -extldflags '-Wl,-z,relro,-z,now'" -o $(DEBDIR)/deb/ynhd ./cmd/ynhd
	@if $(MAKE) -n man >/dev/null 2>&1; then $(MAKE) man; \
	else echo "make deb: no man target here; man pages only from build/man" >&2; fi
	bash packaging/deb.sh $(DEBDIR)/deb/ynhd "$(VERSION)" $(DEBDIR) "$(DEB_MAINTAINER)" "$(DEB_REVISION)"

uninstall:
	rm -f $(DESTDIR)$(MANDIR)/man1/ynhd.1 $(DESTDIR)$(MANDIR)/man1/ynhd-*.1 $(DESTDIR)$(MANDIR)/man5/ynhd.toml.5 $(DESTDIR)$(MANDIR)/man8/ynhd-system.8
	rm -f $(DESTDIR)$(BINDIR)/ynhd $(DESTDIR)$(USERUNITDIR)/ynhd.service $(DESTDIR)$(USERUNITDIR)/ynhd-network-online.service $(DESTDIR)$(SYSTEMUNITDIR)/ynhd.service

demo: build
	bash hack/demo.sh

testenv-up:
	bash hack/testenv.sh up

testenv-down:
	bash hack/testenv.sh down

clean:
	rm -rf bin build
