# `make demo` and `make test` work on a fresh machine that has only python3:
# the first target that needs it creates .venv and installs gristmill into it.
# `make demo` installs the library alone (it needs only the standard library);
# the other targets add every extra and the dev, bench and docs tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORE_STAMP := $(VENV)/.core-stamp
STAMP := $(VENV)/.installed-stamp
LINTED := src tests benchmarks examples docs/_griffe docs/_check .ci compat
NEEDS_PYTHON := import sys; sys.exit(sys.version_info < (3, 11))

# A .venv whose python is missing, broken or older than 3.11 (one left by a first
# try under Python 3.10, say) is rebuilt from scratch instead of being reused.
VENV_OK := $(shell $(BIN)/python -c '$(NEEDS_PYTHON)' >/dev/null 2>&1 && echo yes)
ifneq ($(VENV_OK),yes)
STALE_VENV := stale-venv
endif

.PHONY: demo test lint typecheck docs docs-check check bench soak clean stale-venv compat

$(CORE_STAMP): pyproject.toml $(STALE_VENV)
	@$(PYTHON) -c '$(NEEDS_PYTHON)' || { \
		echo "gristmill needs Python 3.11 or newer, and $(PYTHON) is older;" \
			"run make with PYTHON=python3.11 (or newer)" >&2; exit 1; }
	$(if $(STALE_VENV),rm -rf $(VENV))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): $(CORE_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench,all,docs]'
	touch $@

# The library under load, then the gristmill command with its progress display.
demo: $(CORE_STAMP)
	$(BIN)/python examples/demo.py
	$(BIN)/python examples/map_cli.py --lines 3000

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy --strict

# Mermaid is served by the site itself, so the diagrams render offline. The script
# comes from the npm registry's mermaid package (3.5 MB, so it is not committed);
# without npm the site falls back to the copy mkdocs-material loads from a CDN.
MERMAID_VERSION := 11.17.2
MERMAID_JS := docs/javascripts/vendor/mermaid.min.js

$(MERMAID_JS):
	mkdir -p build/mermaid $(@D)
	cd build/mermaid && npm pack --silent mermaid@$(MERMAID_VERSION) >/dev/null
	tar -xzf build/mermaid/mermaid-$(MERMAID_VERSION).tgz -C build/mermaid \
		package/dist/mermaid.min.js package/LICENSE
	cp build/mermaid/package/dist/mermaid.min.js $@
	cp build/mermaid/package/LICENSE $(@D)/mermaid.LICENSE

# --strict turns every warning (a broken link, a docstring griffe cannot parse) into a failure.
docs: $(STAMP)
	@$(MAKE) --no-print-directory $(MERMAID_JS) || echo "warning: no local Mermaid" \
		"(npm missing or offline?): the built site loads it from a CDN" >&2
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Not part of CI: looks at the built site in headless Chromium (apt-get install chromium),
# offline, at 1280 px, and leaves screenshots in build/docs-check/ to look at.
docs-check: docs
	$(BIN)/python docs/_check/site_check.py site build/docs-check

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.batching
	$(BIN)/python -m benchmarks.split_bound

# leasepool 0.1.3's own test suite, run against gristmill through compat/shim; the
# sdist is downloaded once into compat/.cache (see compat/run.py for the verdict).
compat: $(STAMP)
	$(BIN)/python compat/run.py

soak: $(STAMP)
	$(BIN)/python -m pytest -m soak -s --timeout=1800 tests/soak

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist site compat/.cache
