# Two commands on a fresh machine:  make reproduce   and   make test
# Both create or refresh .venv from the pinned requirements (torch 2.13.0 CPU build) first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= mini
# worker processes that run the cells ahead (workbench/pipeline/prefetch.py); each gets OMP_NUM_THREADS / JOBS threads
JOBS ?= 2
TEST_JOBS ?= 2
STAMP := $(VENV)/.installed
export OMP_NUM_THREADS ?= 2

.PHONY: venv test lint typecheck pytest reproduce clean-runs

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	# compile the native deformable convolution now (about 45 s, once per source and flags), not in the first run
	$(BIN)/python -c "from workbench.ops import deform_conv_native as n; n.extension()"
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check workbench baselines tests

typecheck: $(STAMP)
	$(BIN)/mypy

# the suite in TEST_JOBS worker processes (pytest-xdist), one thread each, a test file per worker at a time;
# TEST_JOBS=0 runs it in this process
pytest: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/pytest -n $(TEST_JOBS) --dist loadfile

test: lint typecheck pytest

reproduce: $(STAMP)
	$(BIN)/workbench reproduce --profile $(PROFILE) --jobs $(JOBS)

clean-runs:
	rm -rf runs .cache
