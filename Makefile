# The two commands of the README: `make demo` (the main job) and `make test` (every test).
# Both start from a fresh machine with Python 3.10+ and a Rust toolchain: they create the
# virtual environment, install what is needed and build the extension in release mode once.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

# Real protocol peers the tests talk to (Debian packages), installed when missing.
PEER_PACKAGES ?=
# Dovecot reads and writes the Maildirs in tests/test_store_dovecot.py.
PEER_PACKAGES += dovecot-core dovecot-imapd dovecot-pop3d
# SMTP server peers: swaks (with TLS) and Postfix's smtp-source/smtp-sink.
PEER_PACKAGES += swaks libnet-ssleay-perl libio-socket-ssl-perl postfix

.PHONY: demo test bench build venv peers lint rust-test pytest stubtest clean

demo: build
	$(PY) -m mailprims demo

test: peers build lint rust-test stubtest pytest

bench: build
	$(PY) benches/run.py

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "maturin>=1.9,<2" "pytest>=8" "hypothesis>=6.100" "ruff>=0.6" "mypy>=1.11" "aiosmtpd>=1.4.5"
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

clean:
	rm -rf $(VENV) target .pytest_cache .hypothesis .mypy_cache .ruff_cache
