# votewire: two commands on a fresh machine.
#   make demo   set up everything, then replay the bundled Minnesota 2024 night live
#   make test   set up everything, then lint, type-check, unit and integration tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export VOTEWIRE_CACHE_DIR ?= $(HOME)/.cache/votewire

.PHONY: install system-deps kafka-jars us-atlas lint lint-imports typecheck unit integration test demo bench fuzz faults clean

install: $(VENV)/.installed kafka-jars us-atlas

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "votewire needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

kafka-jars: $(VENV)/.installed
	@$(BIN)/votewire kafka fetch

# County shapes for the board's maps: the us-atlas package through npm, into VOTEWIRE_CACHE_DIR.
# Without npm the board still works, without its maps (and says so); the browser test needs them.
us-atlas: $(VENV)/.installed
	@$(BIN)/python -m streams.commands.atlas fetch || echo "make: no county maps on the board: install npm and run make install again" >&2

# Debian packages the tests use as real clients: Prometheus (server, promtool), kcat, Chromium.
system-deps:
	@bash deploy/install-system-deps.sh

lint: install
	$(BIN)/ruff check streams tests bench faults

# Which way the imports point: the contracts in pyproject.toml ([tool.importlinter]).
lint-imports: install
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q tests/unit

# The integration tests run the bench's own readers too (tests/integration/test_bench_nights.py
# runs the Quix Streams peer), so they need the bench extra.
integration: install system-deps $(VENV)/.bench-installed
	$(BIN)/pytest -q tests/integration

test: install system-deps lint lint-imports typecheck $(VENV)/.bench-installed
	$(BIN)/pytest -q tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "make test: pytest ran no tests" >&2; exit 1; fi; exit $$rc

demo: install
	$(BIN)/votewire demo

# Not part of `make test`: about 15 minutes of a machine's full attention. Writes
# bench/results/latest.json and latest.md; exits 1 when any final snapshot is not exact.
# `make bench BENCH_ARGS=--full` adds the full preset (~10M reports), outside those 15 minutes.
BENCH_ARGS ?=
bench: install $(VENV)/.bench-installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# A bounded, seeded fuzz run on the wire decoder and the recording parser (faults/FUZZING.md).
FUZZ_SECONDS ?= 60
FUZZ_SEED ?= 1
fuzz: install
	$(BIN)/python -m faults.fuzz_decoder --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED)

# Not part of `make test` (its short form is: tests/integration/test_scale.py): a three-node
# local cluster, three workers, a broker and a worker SIGKILLed mid-night, then throughput with
# 1, 2 and 3 workers. About ten minutes; writes bench/results/scale.json and scale.md; exits 1
# when any final snapshot is not exact.
.PHONY: scale
scale: install
	$(BIN)/python bench/scale.py

$(VENV)/.bench-installed: pyproject.toml
	$(BIN)/pip install -q -e '.[dev,bench]'
	@touch $@

# Not part of `make test` (its quick form is, in tests/integration/test_faults.py): every fault
# scenario over three seeds on its own broker behind a fault proxy, within 20 minutes; writes
# faults/results/latest.json and exits 1 when a vote is lost or counted twice, a snapshot
# version goes down, or dead letters go missing. Then a minute of the decoder fuzzer, and the
# short form of the cluster test (bench/scale.py --quick: three brokers, three workers, one of
# each SIGKILLed mid-night; faults/results/scale-quick.{json,md}).
faults: install
	$(BIN)/python -m faults.run --seeds 1,2,3; rc=$$?; \
	$(BIN)/python -m faults.fuzz_decoder --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED) || rc=1; \
	$(BIN)/python bench/scale.py --quick --out faults/results/scale-quick || rc=1; \
	exit $$rc

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# The model of the vote still out, measured (not part of `make test`; about a minute): coverage
# and error of its intervals on 20 simulated nights and on the real Minnesota 2024 night, as
# Markdown (the tables in README, "The model of the vote still out").
.PHONY: model-check
model-check: install
	$(BIN)/python -m streams.commands.model_check --seeds 20
