# redsleeve: plain GNU make. `make` builds ./redsleeve; `make test` runs every
# suite; `make check-asan` runs them under AddressSanitizer + UBSan;
# `make demo` runs a local TLS-only redis with redsleeve in front of it.

CC      ?= cc
# STATIC=1: one static binary for the container image (no libsystemd:
# Debian ships no static one, and no systemd runs inside the image).
STATIC  ?= 0
ifeq ($(STATIC),1)
PKGS    := openssl libevent libevent_pthreads libevent_openssl inih
PKG_STATIC := --static
else
PKGS    := openssl libevent libevent_pthreads libevent_openssl inih \
           libsystemd
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config $(PKG_STATIC) --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
TOOL_LIBS := $(shell pkg-config --libs hiredis openssl libevent 2>/dev/null)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(CFLAGS) \
              $(PKG_CFLAGS) -DREDSLEEVE_VERSION='"$(VERSION)"' -MMD -MP
LDFLAGS_ALL := -pie -Wl,-z,relro,-z,now $(LDFLAGS)

ifeq ($(STATIC),1)
ALL_CFLAGS  += -DREDSLEEVE_NO_SYSTEMD
LDFLAGS_ALL := -static -Wl,-z,relro,-z,now $(LDFLAGS)
BUILD ?= build-static
endif

ifneq ($(SANITIZE),)
ALL_CFLAGS  += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all \
               -fno-omit-frame-pointer
LDFLAGS_ALL += -fsanitize=$(SANITIZE)
BUILD ?= build-san
else
BUILD ?= build
endif

SRCS    := $(wildcard proxy/*.c)
OBJS    := $(patsubst proxy/%.c,$(BUILD)/proxy/%.o,$(SRCS))
LIBOBJS := $(filter-out $(BUILD)/proxy/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/check_*.c)
UNITS   := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
TOOLS   := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))
PROG    := $(BUILD)/redsleeve

.PHONY: all test test-unit test-integration check-asan check-tsan demo deps clean \
        install tools node-clients fuzz fuzz-resp fuzz-inline fuzz-config fuzz-cluster soak soak-asan bench bench-cluster bench-report test-workers test-shared check-asan-shared static image test-image \
        deb test-deb test-pod

all: ./redsleeve

./redsleeve: $(PROG)
	@if [ "$(BUILD)" = build ]; then cp $(PROG) redsleeve.tmp && mv -f redsleeve.tmp redsleeve; fi

$(PROG): $(OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS)

$(BUILD)/proxy/%.o: proxy/%.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(EXTRA_DEFS) -c -o $@ $<

# Only main.o carries the git revision, so a commit rebuilds one file.
$(BUILD)/proxy/main.o: EXTRA_DEFS = -DREDSLEEVE_GIT_REV='"$(GIT_REV)"'
$(BUILD)/proxy/main.o: $(BUILD)/.gitrev
$(BUILD)/.gitrev: FORCE
	@mkdir -p $(BUILD)
	@echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' > $@

# Rebuild everything when the flags change.
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(ALL_CFLAGS) $(LDFLAGS_ALL)' | cmp -s - $@ || \
	    echo '$(ALL_CFLAGS) $(LDFLAGS_ALL)' > $@

$(BUILD)/unit/%: tests/unit/%.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Iproxy -o $@ $< $(LIBOBJS) \
	    $(LDFLAGS_ALL) $(PKG_LIBS) $(CHECK_LIBS)

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS_ALL) $(TOOL_LIBS)

tools: $(TOOLS)

deps:
	@sh scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory test-unit test-integration

test-unit: $(UNITS)
	@set -e; for t in $(UNITS); do echo "== $$t"; \
	    CK_DEFAULT_TIMEOUT=60 UNIT_DATA=tests/unit/data $$t; done

# The Node.js clients the cluster tests drive (ioredis, node-redis), pinned
# in tests/node/package-lock.json, fetched from the npm registry once.
NODE_CLIENTS := tests/node/node_modules/.package-lock.json
$(NODE_CLIENTS): tests/node/package.json tests/node/package-lock.json
	@cd tests/node && npm ci --no-audit --no-fund --loglevel=error

node-clients: $(NODE_CLIENTS)

test-integration: $(PROG) $(TOOLS) $(NODE_CLIENTS)
	@REDSLEEVE=$(PROG) TOOLS=$(BUILD)/tools bash tests/integration/run.sh

# Every integration test again with workers = 2 (RS_WORKERS adds it to
# every config they start; NWORKERS in lib.sh scales per-process counts).
test-workers: $(PROG) $(TOOLS) $(NODE_CLIENTS)
	@RS_WORKERS=2 REDSLEEVE=$(PROG) TOOLS=$(BUILD)/tools bash \
	    tests/integration/run.sh

# Every integration test again with pool_mode = shared (RS_POOL_MODE adds
# it to every service they start): clients on shared links, pinned when
# they must be.
test-shared: $(PROG) $(TOOLS) $(NODE_CLIENTS)
	@RS_POOL_MODE=shared REDSLEEVE=$(PROG) TOOLS=$(BUILD)/tools bash \
	    tests/integration/run.sh

# test-shared under ASan + UBSan (what .ci/run runs).
check-asan-shared: deps
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(MAKE) --no-print-directory SANITIZE=address,undefined \
	    test-shared

check-asan: deps
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(MAKE) --no-print-directory SANITIZE=address,undefined \
	    test-unit test-integration

# ThreadSanitizer: the unit tests and every integration test with two
# workers (where threads meet: the mailbox, the shared seats, reloads
# committed in every loop).  Any report fails the run.
check-tsan: deps
	@TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	    $(MAKE) --no-print-directory SANITIZE=thread BUILD=build-tsan \
	    test-unit test-workers

demo: deps ./redsleeve
	@bash scripts/demo.sh

# libFuzzer (clang): the RESP scanner and the config parser, each
# FUZZ_SECONDS long (default 60), starting from the seed corpora in
# tests/fuzz/corpus/.  `make fuzz-resp` / `make fuzz-config` run one.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -Iproxy \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
build/fuzz/fuzz_resp: tests/fuzz/fuzz_resp.c proxy/resp.c proxy/resp.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_resp.c proxy/resp.c

# The inline tokenizer against the reference shaped like sdssplitargs().
build/fuzz/fuzz_inline: tests/fuzz/fuzz_inline.c tests/fuzz/ref_split.h \
	    proxy/resp.c proxy/resp.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_inline.c proxy/resp.c

CONFIG_SRCS := $(wildcard proxy/config*.c) proxy/stunnel.c proxy/log.c \
	    proxy/aws_creds.c proxy/creds.c proxy/creds_sts.c
build/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(CONFIG_SRCS) proxy/config.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ tests/fuzz/fuzz_config.c \
	    $(CONFIG_SRCS) $(shell pkg-config --libs openssl inih libevent \
	    libevent_openssl)

# The cluster rewriter (cluster mode), seeded with real replies.
build/fuzz/fuzz_cluster: tests/fuzz/fuzz_cluster.c proxy/cluster_rewrite.c \
	    proxy/cluster_rewrite.h proxy/resp.c proxy/resp.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_cluster.c \
	    proxy/cluster_rewrite.c proxy/resp.c

fuzz: fuzz-resp fuzz-inline fuzz-config fuzz-cluster

fuzz-cluster: build/fuzz/fuzz_cluster
	@mkdir -p build/fuzz/corpus-cluster
	@for f in tests/unit/data/cluster/*.resp; do \
	    for k in 1 2 3 4 5; do printf "\\$$(printf %o $$k)" | \
	        cat - $$f >build/fuzz/corpus-cluster/$$k-$$(basename $$f); \
	    done; done
	build/fuzz/fuzz_cluster -max_total_time=$(FUZZ_SECONDS) \
	    -print_final_stats=1 build/fuzz/corpus-cluster

fuzz-inline: build/fuzz/fuzz_inline
	@mkdir -p build/fuzz/corpus-inline
	build/fuzz/fuzz_inline -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -max_len=256 build/fuzz/corpus-inline tests/fuzz/corpus/inline

fuzz-resp: build/fuzz/fuzz_resp
	@mkdir -p build/fuzz/corpus-resp
	build/fuzz/fuzz_resp -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    build/fuzz/corpus-resp tests/fuzz/corpus/resp

fuzz-config: build/fuzz/fuzz_config
	@mkdir -p build/fuzz/corpus-config
	build/fuzz/fuzz_config -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -max_len=4096 build/fuzz/corpus-config tests/fuzz/corpus/config

# Soak: SOAK_SECONDS (default 300) of mixed traffic with server restarts,
# CLIENT KILLs, slow and aborting clients; soak-asan runs it on the
# ASan + UBSan build (RSS is reported there, not judged: ASan quarantines).
SOAK_SECONDS ?= 300
soak: deps $(PROG) $(TOOLS)
	@SOAK_SECONDS=$(SOAK_SECONDS) REDSLEEVE=$(PROG) TOOLS=$(BUILD)/tools \
	    bash tests/soak/run.sh

soak-asan: deps
	@$(MAKE) --no-print-directory SANITIZE=address,undefined build-san/redsleeve tools
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=16 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 SOAK_NO_RSS_CHECK=1 \
	SOAK_SECONDS=$(SOAK_SECONDS) REDSLEEVE=build-san/redsleeve \
	    TOOLS=build-san/tools bash tests/soak/run.sh

# Side-by-side benchmark: redsleeve beside direct TLS, stunnel and HAProxy.
bench: ./redsleeve
	@SHARED=$${SHARED-1} bash bench/run.sh
	@python3 bench/report.py bench/results-latest.txt docs
	@$(MAKE) --no-print-directory bench-cluster

# The cluster case (mode = cluster against direct TLS to the same cluster).
bench-cluster: ./redsleeve tools
	@bash bench/cluster.sh

# docs/performance.md and .svg again from bench/results-latest.txt.
bench-report:
	@python3 bench/report.py bench/results-latest.txt docs

PREFIX  ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR  ?= $(PREFIX)/share/man
install: ./redsleeve
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/redsleeve \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 man/redsleeve.8 $(DESTDIR)$(MANDIR)/man8/redsleeve.8
	install -m 0644 man/redsleeve.ini.5 $(DESTDIR)$(MANDIR)/man5/redsleeve.ini.5
	install -m 0755 redsleeve $(DESTDIR)$(PREFIX)/bin/redsleeve
	install -m 0644 conf/redsleeve.ini \
	    $(DESTDIR)/etc/redsleeve/redsleeve.ini.example
	for u in redsleeve.service redsleeve@.service; do \
	    sed 's|/usr/local/bin/redsleeve|$(PREFIX)/bin/redsleeve|g' \
	        systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u; \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; \
	done

# The container image: a static binary FROM scratch (see Containerfile).
static:
	@$(MAKE) --no-print-directory STATIC=1 build-static/redsleeve

image: static
	@sh scripts/image.sh

# Runs the image with podman in front of a TLS redis-server on loopback.
test-image: image tools
	@REDSLEEVE=$(PROG) TOOLS=$(BUILD)/tools bash tests/image/run.sh

# deploy/kubernetes/redsleeve-sidecar.yaml run with `podman kube play`
# against a TLS redis-server on loopback (the image from `make image`).
test-pod: image tools
	@REDSLEEVE=$(PROG) TOOLS=$(BUILD)/tools bash tests/image/pod.sh

# The Debian package (debhelper), built from a copy of the tree in
# build-deb/ and checked with lintian; see debian/README.source.
deb:
	@sh scripts/deb.sh

# Builds the package, installs it with apt-get, removes and purges it
# (root; changes the machine, leaves it as found).
test-deb:
	@bash tests/package/run.sh

clean:
	rm -rf build build-san build-tsan build-static build-deb redsleeve

FORCE:

-include $(OBJS:.o=.d)
