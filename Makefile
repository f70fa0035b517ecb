# The two commands of the quick start, plus the benchmarks. Each sets up .venv first (pip, pinned versions).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Real datasets for tests and benchmarks, when a copy sits beside the checkout (tests skip without them).
VISIONLAB_TEST_DATA ?= $(wildcard $(CURDIR)/../shared/data)
export VISIONLAB_TEST_DATA

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/visionlab demo --out runs/demo

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -q -m "not slow" tests

bench: $(STAMP)
	$(PY) benchmarks/run.py
	$(PY) -m pytest -q -m slow tests

clean:
	rm -rf $(VENV) runs .pytest_cache
