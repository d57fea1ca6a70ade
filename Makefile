# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= out/demo

.PHONY: demo test typecheck docs install install-dev install-docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"

install-docs: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[docs]"

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

clean:
	rm -rf out .pytest_cache .mypy_cache site build/docs
