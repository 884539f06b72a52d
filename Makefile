# `make demo` and `make test` work on a fresh machine that has only python3:
# the first target that needs it creates .venv and installs gristmill into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LINTED := src tests benchmarks examples docs/_griffe .ci compat

.PHONY: demo test lint typecheck docs check bench soak clean compat

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench,all,docs]'
	touch $(STAMP)

# The library under load, then the gristmill command with its progress display.
demo: $(STAMP)
	$(BIN)/python examples/demo.py
	$(BIN)/python examples/map_cli.py --lines 3000

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy --strict

# --strict turns every warning (a broken link, a docstring griffe cannot parse) into a failure.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# leasepool 0.1.3's own test suite, run against gristmill through compat/shim; the
# sdist is downloaded once into compat/.cache (see compat/run.py for the verdict).
compat: $(STAMP)
	$(BIN)/python compat/run.py

soak: $(STAMP)
	$(BIN)/python -m pytest -m soak -s --timeout=1800 tests/soak

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist site compat/.cache
