# Two commands set everything up from a fresh clone (and one opens the dashboard):
#   make demo   — venv, install, run the offline main job on the embedded SQLite store
#   make ui     — the same install, then the dashboard on that store (zvt-crypto serve, http://127.0.0.1:8050/)
#   make test   — venv, install with the dev extras, lint, run the whole test suite
#   make test-quick — the quick loop while developing: no slow tests, spread over the machine's cores (pytest-xdist)
#   make notebooks — execute notebooks/*.ipynb, each in a fresh kernel on a fresh temporary store, and write HTML
#                    copies with their outputs to $(NOTEBOOKS_HTML) (figures with plotly.js inlined, offline; the
#                    .ipynb files stay without outputs)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
NOTEBOOKS_HTML ?= build/notebooks

.PHONY: demo ui test test-quick lint bench notebooks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python setup.cfg pyproject.toml
	$(PIP) install -e ".[dev]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-notebooks: $(BIN)/python setup.cfg pyproject.toml
	$(PIP) install -e ".[notebooks]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/zvt-crypto demo

ui: $(VENV)/.installed
	$(BIN)/zvt-crypto serve

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check zvt_crypto tests benchmarks
	$(BIN)/python -m mypy

test: lint
	$(BIN)/python -m pytest

test-quick: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not slow" -n auto

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_store.py

notebooks: $(VENV)/.installed-notebooks
	mkdir -p $(NOTEBOOKS_HTML)
	for notebook in notebooks/*.ipynb; do \
		home=$$(mktemp -d) || exit 1; \
		ZVT_CRYPTO_HOME=$$home OMP_NUM_THREADS=1 PLOTLY_RENDERER=notebook $(BIN)/jupyter nbconvert --to html --execute \
			--ExecutePreprocessor.timeout=120 --output-dir $(NOTEBOOKS_HTML) "$$notebook"; status=$$?; \
		rm -rf "$$home"; [ $$status -eq 0 ] || exit $$status; \
	done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
