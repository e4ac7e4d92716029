# Two commands do all the set-up: `make demo` and `make test`.
# Both create .venv with python3.12 when it is missing.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# python3.12 may be a pyenv shim that is not activated; fall back to the
# interpreters pyenv or the system keep.
PYTHON312 ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
DEMO_DIR ?= demo-output

.PHONY: venv test test-fast lint typecheck pytest docs demo clean

$(BIN)/python:
	@test -n "$(PYTHON312)" || { echo "python3.12 not found: install Python 3.12" >&2; exit 1; }
	$(PYTHON312) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict torchgeo_bvm

# Tests spread over every core (pytest-xdist): the slow ones start first
# (tests/conftest.py) and an idle worker takes the other's last tests
# (work stealing). `make test-fast` leaves out the tests marked slow, for the
# edit loop. `make test` runs everything.
pytest: $(STAMP)
	$(BIN)/pytest -n auto --dist worksteal

test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -n auto -m "not slow"

docs: $(STAMP)
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html

# Lint, the type check and the docs each use one core: they run beside the
# tests so that no core waits (the docs build says only its warnings).
test: $(STAMP)
	$(MAKE) --no-print-directory -j4 lint typecheck pytest docs

demo: $(STAMP)
	$(BIN)/torchgeo-bvm demo --out $(DEMO_DIR)

clean:
	rm -rf $(VENV) docs/_build .mypy_cache .ruff_cache .pytest_cache
