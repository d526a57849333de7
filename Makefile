# Two commands set everything up on a fresh machine with only python3 and make:
#   make run    create .venv, install, run the baseline scenario into outputs/
#   make test   create .venv, install, run the whole test suite
#   make app    the interactive what-if page on http://127.0.0.1:8501 (Streamlit, loopback only)
#   make e2e    the page driven in headless Chromium (installs Debian's chromium when missing)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
E2E_STAMP := $(VENV)/.installed-e2e
APP := simulator/app/streamlit_app.py
APP_PORT ?= 8501
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test test-fast lint bench venv clean app e2e regression-update

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when pyproject.toml changed (the stamp is older than it).
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing nelm-sim and its dependencies into $(VENV) (about a minute on a fresh machine; once only)..."
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[dev]'
	@echo "Installed: $$($(BIN)/nelm-sim --version)"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/nelm-sim run scenarios/baseline.yaml --force

test: lint
	$(BIN)/python -m pytest -q

# Lint, format and type checks (ruff, mypy on the modules listed in pyproject.toml); part of `make test`.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The quick tier only (skips tests marked slow); `make test` runs everything.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# Rewrite the stored regression outputs (tests/regression/expected/) after an intended change of
# behaviour; review and explain their diff in the commit that changes them.
regression-update: $(STAMP)
	$(BIN)/python -m tests.regression.cases

# Throughput, parallel speed-up and peak memory on this machine, into benchmarks/results.md (about 15 minutes).
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--compare-with ../before --baseline-only".
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py --write benchmarks/results.md $(BENCH_ARGS)

# Served on loopback only; no usage statistics are sent.
app: $(STAMP)
	$(BIN)/python -m streamlit run $(APP) --server.address 127.0.0.1 --server.port $(APP_PORT) \
		--server.headless true --browser.gatherUsageStats false --client.toolbarMode minimal

# Playwright drives the system's Chromium (no browser download); tests/e2e/ starts its own server.
$(E2E_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,e2e]'
	touch $(E2E_STAMP)

e2e: $(E2E_STAMP)
	command -v chromium || (apt-get update && apt-get install -y chromium)
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -q -s tests/e2e

clean:
	rm -rf $(VENV) outputs build *.egg-info .pytest_cache .hypothesis
