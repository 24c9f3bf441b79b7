# tern - thin wrapper around Meson. See README.md.
#   make run      install what building and running need, build, serve
#                 the demo (./build/tern --demo serve)
#   make test     install the test tools too, build with ASan+UBSan, run
#                 all tests
#   make install  the binary, the sendmail link, man pages, systemd unit,
#                 libtern; PREFIX=/usr/local and DESTDIR honoured
.POSIX:
.PHONY: all deps deps-run deps-test build run test unit fuzz fuzz-build \
	integration integration-parallel integration-serial fuzz-smoke bench bench-all bench-sweep bench-queue deps-bench clean lint lint-ban check-valgrind install test-long

PYTHON   = /usr/bin/python3
BUILD    = build
TBUILD   = build-asan
FBUILD   = build-fuzz
FUZZ_SECONDS ?= 600

# What building and running tern needs (issue 15: `make run` installs
# only these) ...
DEPS_RUN = meson ninja-build pkg-config gcc libevent-dev libssl-dev \
	libsqlite3-dev libinih-dev libcrypt-dev libunbound-dev libsystemd-dev \
	libpsl-dev publicsuffix libjansson-dev libcurl4-openssl-dev zlib1g-dev \
	dns-root-data
# ... and what only the tests, fuzzers, linters and benches use.
DEPS_TEST = clang-14 libclang-rt-14-dev libcmocka-dev python3 \
	python3-pytest python3-pytest-xdist swaks openssl valgrind cppcheck clang-tidy-14 \
	dnsmasq-base dovecot-lmtpd dovecot-imapd dovecot-pop3d dovecot-sqlite iproute2 man-db groff-base systemd util-linux fail2ban \
	python3-dnspython python3-dkim python3-nacl python3-authres opendkim \
	opendkim-tools python3-cryptography prometheus chromium chromium-driver \
	python3-selenium libmilter-dev rspamd curl nsd ldnsutils python3-jsonschema
# bench/sweep.py's plot (bench/run.py installs postfix and linux-perf itself,
# preseeded so that no system mail server is set up)
DEPS_BENCH = python3-matplotlib
DEB_PKGS = $(DEPS_RUN) $(DEPS_TEST)

all: build

deps-run:
	tools/deps.sh $(DEPS_RUN)

deps-test:
	tools/deps.sh $(DEB_PKGS)

deps: deps-test

deps-bench:
	tools/deps.sh $(DEPS_BENCH)

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: deps-run build
	./$(BUILD)/tern --demo serve

$(TBUILD)/build.ninja:
	meson setup $(TBUILD) -Db_sanitize=address,undefined -Db_lundef=false

$(FBUILD)/build.ninja:
	CC=clang-14 meson setup $(FBUILD) -Dfuzzing=true -Dtests=disabled

# make test is CPU-bound on 2 cores (measured: both cores busy from the
# first build to the last test), so the fuzzers ride along at the lowest
# CPU and I/O priority (tools/beside.sh: both exit statuses kept, the
# fuzz log printed after the tests'): their build beside the parallel
# integration tests, in what CPU those leave, and their smoke run (each
# fuzzer FUZZ_SMOKE seconds of wall time, however little CPU it gets)
# beside the serial tests, which mostly wait on timeouts and sockets.
# Measured on 2 cores: 648 s with the fuzzers after the parallel tests.
FUZZ_SMOKE ?= 3
test: deps-test $(TBUILD)/build.ninja $(FBUILD)/build.ninja
	tools/lint.sh ban
	ninja -C $(TBUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(TBUILD) --suite unit --print-errorlogs
	tools/beside.sh $(FBUILD)/build.log \
		"ninja -C $(FBUILD)" "$(MAKE) integration-parallel"
	tools/beside.sh $(FBUILD)/smoke.log \
		"$(MAKE) fuzz-smoke FUZZ_SECONDS=$(FUZZ_SMOKE)" \
		"$(MAKE) integration-serial"

# What is too long for `make test` (README "Tests"): every fuzzer for
# FUZZ_LONG seconds, and the load tests at ten times their size
# (TERN_LONG=1: test_crash_load 20,000 messages and 60 kill -9,
# test_reload 2,000 messages across 100 reloads). About an hour.
FUZZ_LONG ?= 300
test-long: test
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_LONG)
	TERN_LONG=1 TERN_BIN=$(CURDIR)/$(TBUILD)/tern $(PYTHON) -m pytest -q \
		tests/integration/test_crash_load.py \
		tests/integration/test_reload.py

# The integration tests run PYTEST_JOBS at a time (pytest-xdist: each
# test has its own ports and data_dir), then those marked `serial` alone:
# they measure time or load the machine (tests/integration/pytest.ini).
# --dist loadgroup keeps a file's tests marked xdist_group on one worker
# (test_capture_page.py: one browser for the file, not one per worker).
PYTEST_JOBS ?= 4
integration: integration-parallel integration-serial

integration-parallel: $(TBUILD)/build.ninja
	ninja -C $(TBUILD)
	TERN_BIN=$(CURDIR)/$(TBUILD)/tern $(PYTHON) -m pytest -q \
		-n $(PYTEST_JOBS) --dist loadgroup -m "not serial" tests/integration

integration-serial: $(TBUILD)/build.ninja
	ninja -C $(TBUILD)
	TERN_BIN=$(CURDIR)/$(TBUILD)/tern $(PYTHON) -m pytest -q \
		-m serial tests/integration

fuzz: deps-test $(FBUILD)/build.ninja
	ninja -C $(FBUILD)
	$(MAKE) fuzz-smoke

# Every fuzzer for FUZZ_SECONDS on what is built (make test builds first).
fuzz-smoke:
	FUZZ_SECONDS=$(FUZZ_SECONDS) meson test -C $(FBUILD) --suite fuzz \
		--no-rebuild --print-errorlogs --num-processes 2

# issue 20's one run: protocol ceiling, tuned Postfix and tern (bench/README.md)
bench: deps-test build
	$(PYTHON) bench/round2.py

# every workload of issues 6-18 (bench/run.py), about 30-40 minutes
bench-all: deps-test build
	$(PYTHON) bench/run.py

# both servers over S = 1..500 and sizes 1 KiB..10 MiB, table and plot
bench-sweep: deps-test deps-bench build
	$(PYTHON) bench/sweep.py

# issue 20: tern with 100,000 deferred messages queued (bench/README.md,
# "Cost as the queue grows"); about 5 minutes, most of it filling the queue.
bench-queue: deps-test build
	$(PYTHON) bench/queue_scale.py

# issue 20: where tern's time goes: a flame graph (SVG), the top symbols,
# system call shares and thread hand-offs per message under the bench
# load, into bench/results/ (bench/README.md "Where the time goes").
.PHONY: bench-profile
bench-profile: build
	flock /tmp/bench.lock $(PYTHON) bench/profile.py

# issue 7: static checks (tools/lint.sh documents the checks) and the
# integration tests against a plain build run under valgrind memcheck.
lint-ban:
	tools/lint.sh ban

lint: deps-test $(TBUILD)/build.ninja
	tools/lint.sh all $(TBUILD)

VBUILD   = build-valgrind
VALGRIND = valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite

$(VBUILD)/build.ninja:
	meson setup $(VBUILD) -Dtests=enabled

check-valgrind: deps-test $(VBUILD)/build.ninja
	ninja -C $(VBUILD)
	TERN_BIN=$(CURDIR)/$(VBUILD)/tern TERN_WRAPPER="$(VALGRIND)" \
		TERN_IDLE=1000 $(PYTHON) -m pytest -q tests/integration

# issue 5: libtern.so/.a, tern/tern.h, tern.pc and the tern binary
# under PREFIX (default /usr/local), e.g. `make install PREFIX=$HOME/.local`;
# issue 15: also sbin/sendmail -> ../bin/tern, the man pages tern(8) and
# tern.conf(5), and lib/systemd/system/tern.service. DESTDIR=/tmp/stage
# installs into a staging tree (packaging, tests).
PREFIX ?= /usr/local
DESTDIR ?=
install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	ninja -C $(BUILD)
	DESTDIR="$(DESTDIR)" meson install -C $(BUILD) --no-rebuild

clean:
	rm -rf $(BUILD) $(TBUILD) $(FBUILD) $(VBUILD)
