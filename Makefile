# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= out/demo

.PHONY: demo test typecheck docs install install-dev install-docs bench clean

# pip -qq: quiet unless something fails (setuptools' notes on editable installs are not news)
PIP    := $(BIN)/python -m pip install -qq

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# stamps: reinstall only when pyproject.toml changes (the install is editable: code changes
# need no reinstall)
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[dev]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[docs]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-docs: $(VENV)/.installed-docs

demo: install
	$(BIN)/python -m rfbjax.demo --out $(OUT)

test: install-dev
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

typecheck: install-dev
	$(BIN)/python -m mypy

# the API reference and the guide, built offline: open site/index.html
docs: install-docs
	$(BIN)/python scripts/build_docs.py

bench: install-dev
	$(BIN)/python scripts/bench.py

# tool caches and build products only: results under out/ and runs/ are yours and stay
clean:
	rm -rf .pytest_cache .mypy_cache site build dist
