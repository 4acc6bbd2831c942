# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.timestep-installed
JS_STAMP := conformance/js/node_modules/.timestep-installed

.PHONY: install test demo lint bench clean

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(JS_STAMP): conformance/js/package.json conformance/js/package-lock.json
	npm ci --prefix conformance/js --no-audit --no-fund --loglevel=error
	touch $@

install: $(PY_STAMP) $(JS_STAMP)
	$(BIN)/timestep setup

test: install
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/python scripts/demo.py

lint: install
	$(BIN)/ruff check timestep tests scripts
	$(BIN)/mypy

bench: install
	$(BIN)/python scripts/bench_store.py
	$(BIN)/python scripts/bench_session.py
	$(BIN)/python scripts/bench_runs.py
	$(BIN)/python scripts/bench_durable.py
	$(BIN)/python scripts/bench_translate.py

clean:
	rm -rf $(VENV) conformance/js/node_modules .timestep-demo
