# Every target installs what it needs first, so each works alone on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install test reliability demo demo-cluster console bench clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,dask]'
	touch $@

test: install
	$(BIN)/python -m pytest -q tests

# The fault cases alone (also part of `make test`), with their table of rows exported, rejected and lost.
reliability: install
	$(BIN)/python -m pytest -q -m reliability tests

demo: install
	$(BIN)/python -m pipelines.demo

# One export through a local Dask scheduler and two workers into the local S3 server (README: Dask cluster).
demo-cluster: install
	$(BIN)/python -m pipelines.demo_cluster

console: install
	$(BIN)/python -m pipelines.console_demo

# make bench EVENTS=5000000 PROFILE=distinct REPEAT=3 [BENCH_ARGS="--formats json,xml"]
EVENTS ?= 1000000
PROFILE ?= natural
REPEAT ?= 1
bench: install
	$(BIN)/python -m benchmarks.run --events $(EVENTS) --store-profile $(PROFILE) --repeat $(REPEAT) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo-out demo-cluster-out console-out .pytest_cache
