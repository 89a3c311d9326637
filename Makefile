# One entry point per job; every target sets up .venv first if it is missing.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo demo-sql test test-fast lint bench clean

$(VENV)/.fteval-installed: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh

setup: $(VENV)/.fteval-installed

demo: setup  ## the offline ViGGO spec on the reference prompt end to end (train a tiny model from scratch on CPU, evaluate)
	$(VENV)/bin/fteval run specs/viggo-instruct.yaml

demo-sql: setup
	$(VENV)/bin/fteval run specs/sql.yaml

test: setup lint  ## lint, type-check, then the whole test suite
	$(VENV)/bin/pytest

test-fast: setup  ## the in-process tier for the edit-test loop (tests marked `fast`; see README, Tests)
	$(VENV)/bin/pytest -m fast

lint: setup  ## ruff (lint + format check) and mypy --strict on fteval/, plugins/ and the test suite's plugin packages
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: setup
	$(PY) benchmarks/validate_startup.py
	$(PY) benchmarks/score_sql.py
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/generate_throughput.py
	$(PY) benchmarks/shared_prefix.py
	$(PY) benchmarks/eval_vs_lm_eval.py
	$(PY) benchmarks/report_build.py --synthetic 5000

clean:
	rm -rf .fteval
