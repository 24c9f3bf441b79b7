# tern - thin wrapper around Meson. See README.md.
#   make run    install what is missing, build, serve the demo config
#   make test   install what is missing, build with ASan+UBSan, run all tests
.POSIX:
.PHONY: all deps build run test unit fuzz fuzz-build integration bench clean \
	lint lint-ban check-valgrind install

PYTHON   = /usr/bin/python3
BUILD    = build
TBUILD   = build-asan
FBUILD   = build-fuzz
FUZZ_SECONDS ?= 600

DEB_PKGS = meson ninja-build pkg-config gcc clang-14 libclang-rt-14-dev \
	libevent-dev libssl-dev libsqlite3-dev libinih-dev libcrypt-dev \
	libunbound-dev libcmocka-dev python3 python3-pytest swaks openssl \
	valgrind cppcheck clang-tidy-14 dnsmasq-base dovecot-lmtpd

all: build

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: deps build
	./$(BUILD)/tern serve

$(TBUILD)/build.ninja:
	meson setup $(TBUILD) -Db_sanitize=address,undefined -Db_lundef=false

$(FBUILD)/build.ninja:
	CC=clang-14 meson setup $(FBUILD) -Dfuzzing=true -Dtests=disabled

test: deps $(TBUILD)/build.ninja
	tools/lint.sh ban
	ninja -C $(TBUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(TBUILD) --suite unit --print-errorlogs
	$(MAKE) fuzz FUZZ_SECONDS=5
	$(MAKE) integration

integration: $(TBUILD)/build.ninja
	ninja -C $(TBUILD)
	TERN_BIN=$(CURDIR)/$(TBUILD)/tern $(PYTHON) -m pytest -q tests/integration

fuzz: deps $(FBUILD)/build.ninja
	ninja -C $(FBUILD)
	FUZZ_SECONDS=$(FUZZ_SECONDS) meson test -C $(FBUILD) --suite fuzz \
		--print-errorlogs --num-processes 2

bench: deps build
	$(PYTHON) bench/run.py

# issue 7: static checks (tools/lint.sh documents the checks) and the
# integration tests against a plain build run under valgrind memcheck.
lint-ban:
	tools/lint.sh ban

lint: deps $(TBUILD)/build.ninja
	tools/lint.sh all $(TBUILD)

VBUILD   = build-valgrind
VALGRIND = valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite

$(VBUILD)/build.ninja:
	meson setup $(VBUILD) -Dtests=enabled

check-valgrind: deps $(VBUILD)/build.ninja
	ninja -C $(VBUILD)
	TERN_BIN=$(CURDIR)/$(VBUILD)/tern TERN_WRAPPER="$(VALGRIND)" \
		TERN_IDLE=1000 $(PYTHON) -m pytest -q tests/integration

# issue 5: libtern.so/.a, tern/tern.h, tern.pc and the tern binary
# under PREFIX (default /usr/local), e.g. `make install PREFIX=$HOME/.local`.
PREFIX ?= /usr/local
install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(TBUILD) $(FBUILD) $(VBUILD)
