# The two commands of the README: `make demo` (the main job) and `make test` (every test).
# Both start from a fresh machine with Python 3.10+ and a Rust toolchain: they create the
# virtual environment, install what is needed and build the extension in release mode once.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

# Real protocol peers the tests talk to (Debian packages), installed when missing.
# postfix: smtp-sink/smtp-source; dovecot: Maildir interop and a POP3 peer.
PEER_PACKAGES ?= postfix dovecot-core dovecot-imapd dovecot-pop3d
# SMTP server peers: swaks, with the Perl TLS modules its STARTTLS needs.
PEER_PACKAGES += swaks libnet-ssleay-perl libio-socket-ssl-perl
# The web inbox's browser tests: headless Chromium and its WebDriver, driven by Selenium.
PEER_PACKAGES += chromium chromium-driver

.PHONY: demo test bench build venv peers lint rust-test pytest stubtest docs clean wheel sdist smoke dev
.PHONY: fuzz fuzz-smoke fuzz-long fuzz-cmin
.PHONY: stress

demo: build
	$(PY) -m mailprims demo

test: peers build lint rust-test stubtest docs pytest smoke fuzz-smoke

bench: build
	$(PY) -m pip install --quiet "aiosmtplib>=3"
	$(PY) -m pip install --quiet "fast-mail-parser>=0.10"
	$(PY) benches/run.py

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "maturin>=1.9,<2" "pytest>=8" "hypothesis>=6.100" "ruff>=0.6" "mypy>=1.11"
	$(PY) -m pip install --quiet "aiosmtpd>=1.4" "dnslib>=0.9"
	$(PY) -m pip install --quiet "imapclient>=3"
	$(PY) -m pip install --quiet "nbclient>=0.10" "nbformat>=5.10" "ipykernel>=6.29" "pandas>=2.0" "matplotlib>=3.8"
	$(PY) -m pip install --quiet "pyarrow>=15" "dask[dataframe]>=2024.1" "distributed>=2024.1"
	# E-mail authentication: dkimpy (with PyNaCl for Ed25519) is the DKIM oracle; PyYAML reads
	# the RFC 7208 SPF test suite.
	$(PY) -m pip install --quiet "dkimpy>=1.1.8" "pynacl>=1.5" "pyyaml>=6"
	$(PY) -m pip install --quiet "selenium>=4.20"
	# The documentation site (`make docs`): mkdocs-material, and mkdocstrings with griffe
	# reading the package and its stubs for the API reference.
	$(PY) -m pip install --quiet "mkdocs-material>=9.5" "mkdocstrings[python]>=0.26"
	# Portable wheels: zig links against glibc 2.17 (manylinux2014); auditwheel checks the tag;
	# trove-classifiers validates pyproject's classifiers (tests/test_packaging.py).
	$(PY) -m pip install --quiet "ziglang>=0.13" "auditwheel>=6" "trove-classifiers>=2024.1"
	touch $@

# One release build serves everything: `make build` compiles the extension once, as the wheel
# users get (on Linux a manylinux2014 wheel: maturin's --zig links against glibc 2.17), and
# tools/dev_install.py installs that same wheel into .venv laid out as `maturin develop` lays it
# out (the .so beside the sources in python/mailprims, a .pth to python/), so pytest, the
# doctests and stubtest run against the binary that `make smoke` then installs into a fresh
# venv per CPython. `maturin develop --release` beside it would be a second full release build
# (fat LTO, ~10-20 min on 2 cores): zig's linker and C compiler change every C dependency's
# build (ring, mimalloc) and maturin builds for an explicit target triple, so cargo reuses
# nothing between the two. cargo's incremental cache still makes a second `make` relink only
# when sources changed. Elsewhere (macOS, BSD) the wheel is a plain native build.
WHEELS := target/wheels
ifeq ($(shell uname -s),Linux)
WHEEL_FLAGS ?= --zig --compatibility manylinux2014
WHEEL_TAG ?= manylinux_2_17
endif

build: venv
	rm -f $(WHEELS)/mailprims-*.whl
	$(VENV)/bin/maturin build --release --quiet $(WHEEL_FLAGS) --out $(WHEELS)
	$(PY) tools/dev_install.py $(WHEELS)/mailprims-*.whl

# Iteration build for development: the `fast` profile (no fat LTO, incremental) installed into
# .venv in place (`maturin develop`); `make build` puts the release wheel back.
dev: venv
	$(VENV)/bin/maturin develop --profile fast --quiet

# The wheel of `make build`, its platform tag confirmed by auditwheel (on Linux), and an sdist.
wheel: build sdist
ifdef WHEEL_TAG
	$(VENV)/bin/auditwheel show $(WHEELS)/mailprims-*.whl | tee target/auditwheel.txt
	grep -q '"$(WHEEL_TAG)_$(shell uname -m)"' target/auditwheel.txt
endif
	@ls -l $(WHEELS)

sdist: venv
	rm -f $(WHEELS)/mailprims-*.tar.gz
	$(VENV)/bin/maturin sdist --out $(WHEELS)

# The wheel alone in a fresh venv for each CPython 3.10-3.13 found here (missing ones are
# skipped with a message): import, parse, build and an SMTP+POP3 round trip (tests/smoke).
smoke: build
	$(PY) tests/smoke/venvs.py $(WHEELS)/mailprims-*.whl

peers:
	@missing=""; for p in $(PEER_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  echo "installing test peers:$$missing"; \
	  echo "postfix postfix/main_mailer_type select No configuration" | $$SUDO debconf-set-selections; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

lint: venv
	cargo fmt --check
	cargo clippy --all-targets --all-features --quiet -- -D warnings
	$(VENV)/bin/ruff check python tests benches docs tools
	$(VENV)/bin/ruff format --check python tests benches docs tools

rust-test:
	cargo test --quiet

stubtest: build
	$(PY) -m mypy.stubtest mailprims --allowlist .stubtest-allowlist

# The README's and the docs pages' examples run as doctests (--doctest-glob in pyproject.toml).
pytest: build
	$(PY) -m pytest tests README.md docs python/mailprims --doctest-modules

# The documentation site into site/: a broken link, a missing page or an API reference
# entry naming nothing fails the build (--strict).
docs: build
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir site

# A bounded fuzzing run for CI: every target for FUZZ_SMOKE_SECONDS (under a minute in all).
fuzz-smoke:
	rm -rf fuzz/target/smoke-corpus
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) FUZZ_NEW=target/smoke-corpus

clean:
	rm -rf $(VENV) target site .pytest_cache .hypothesis .mypy_cache .ruff_cache

# libFuzzer (with AddressSanitizer) on every target in fuzz/fuzz_targets for FUZZ_SECONDS
# each: the message parser (seeded with tests/corpus), addresses, dates, encoded words,
# RFC 2231 parameters, the SMTP and POP3 command and reply parsers and the IMAP response
# parser (seeded with fuzz/corpus/<target>, the committed, minimised corpora, and
# fuzz/seeds/<target> where there is one). New inputs go to FUZZ_NEW/<target>:
# `make fuzz` and `make fuzz-long` grow fuzz/corpus itself (minimise it with `make fuzz-cmin`
# before committing); the smoke run in `make test` writes under fuzz/target instead, so it
# leaves the checkout clean. cargo-fuzz needs nightly compiler flags: the one stable
# toolchain here provides them with RUSTC_BOOTSTRAP=1. `cargo test` also runs a bounded
# mutation test of the message parser.
FUZZ_TARGETS ?= parse_message addresses dates encoded_words params smtp_command smtp_reply pop3_command pop3_response parse_imap_response
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_NEW ?= corpus
FUZZ_SEEDS_parse_message = ../tests/corpus/rfc ../tests/corpus/seed ../tests/corpus/feature ../tests/corpus/malformed ../tests/corpus/thirdparty
FUZZ_MAX_LEN_parse_message = 65536
# The code under test is safe Rust: AddressSanitizer's fake stacks (use-after-return) and
# allocation stack traces cost a third of the message target's speed and find nothing there.
# Rerun a crash with ASAN_OPTIONS= for full reports.
FUZZ_ASAN_OPTIONS ?= detect_stack_use_after_return=0:malloc_context_size=0
fuzz: export ASAN_OPTIONS = $(FUZZ_ASAN_OPTIONS)
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build
	set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t fuzz/$(FUZZ_NEW)/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  seeds="$(FUZZ_SEEDS_parse_message)"; len=$(FUZZ_MAX_LEN_parse_message); \
	  if [ $$t != parse_message ]; then seeds=""; len=16384; fi; \
	  if [ -d fuzz/seeds/$$t ]; then seeds="$$seeds seeds/$$t"; fi; \
	  if [ "$(FUZZ_NEW)" != corpus ]; then seeds="corpus/$$t $$seeds"; fi; \
	  log=fuzz/target/fuzz-$$t.log; \
	  if (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $$t $(FUZZ_NEW)/$$t $$seeds \
	      -- -max_total_time=$(FUZZ_SECONDS) -max_len=$$len -timeout=10 -print_final_stats=1) \
	      >$$log 2>&1; then grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|Done)" $$log; \
	  else tail -40 $$log; exit 1; fi; \
	done

# Hours of fuzzing: every target for FUZZ_SECONDS (an hour unless given on the command line,
# `make fuzz-long FUZZ_SECONDS=7200`), growing fuzz/corpus.
fuzz-long:
	$(PYTHON) fuzz/seeds/make_seeds.py
	$(MAKE) fuzz FUZZ_SECONDS=$(if $(filter command line,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),3600)

# Minimise every committed corpus (libFuzzer -merge=1): what is kept covers the same edges.
fuzz-cmin:
	set -e; for t in $(FUZZ_TARGETS); do \
	  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz cmin $$t corpus/$$t -- -max_len=65536 2>&1 | tail -1); \
	done

# Servers and clients under hostile load (issue 12): wrong passwords by the hundred, slow and
# greedy clients, a burst of 1,000 connects, durable delivery at 50-1,000 connections, kill -9
# while delivering, a full disk (a small tmpfs, when run as root), hostile servers for the
# clients. Prints each figure beside the one from before the fixes (tests/stress/baseline.json).
# A few minutes; not part of `make test`, which runs the same scenarios at CI size
# (tests/test_stress.py).
stress: build
	$(PY) tests/stress/run.py
	MAILPRIMS_EXIT_RUNS=200 $(PY) -m pytest -m slow -q tests

