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

.PHONY: demo test bench build venv peers lint rust-test pytest stubtest clean
.PHONY: fuzz fuzz-smoke

demo: build
	$(PY) -m mailprims demo

test: peers build lint rust-test stubtest pytest fuzz-smoke

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
	$(PY) -m pip install --quiet "nbclient>=0.10" "nbformat>=5.10" "ipykernel>=6.29" "pandas>=2.0" "matplotlib>=3.8"
	$(PY) -m pip install --quiet "selenium>=4.20"
	touch $@

# maturin reuses cargo's incremental build: a second `make` only relinks when sources changed.
build: venv
	$(VENV)/bin/maturin develop --release --quiet

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
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches

rust-test:
	cargo test --quiet

stubtest: build
	$(PY) -m mypy.stubtest mailprims --allowlist .stubtest-allowlist

pytest: build
	$(PY) -m pytest tests README.md python/mailprims --doctest-modules

# A bounded fuzzing run for CI.
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=45

clean:
	rm -rf $(VENV) target .pytest_cache .hypothesis .mypy_cache .ruff_cache

# libFuzzer (with AddressSanitizer) on the message parser for FUZZ_SECONDS, seeded with
# tests/corpus; `make test` runs it for a bounded time. cargo-fuzz needs nightly compiler
# flags: the one stable toolchain here provides them with RUSTC_BOOTSTRAP=1. `cargo test`
# also runs a bounded mutation test of the same entry point.
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
	mkdir -p fuzz/corpus/parse_message
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run parse_message corpus/parse_message \
	  ../tests/corpus/rfc ../tests/corpus/seed ../tests/corpus/feature ../tests/corpus/malformed \
	  -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536
