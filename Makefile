# Two commands set everything up on a fresh machine with only python3 and make:
#   make run    create .venv, install, run the baseline scenario into outputs/
#   make test   create .venv, install, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench venv clean

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when pyproject.toml changed (the stamp is older than it).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/nelm-sim run scenarios/baseline.yaml --force

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The quick tier only (skips tests marked slow); `make test` runs everything.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# Throughput, parallel speed-up and peak memory on this machine, into benchmarks/results.md (about 10 minutes).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py --write benchmarks/results.md

clean:
	rm -rf $(VENV) outputs build *.egg-info .pytest_cache .hypothesis
