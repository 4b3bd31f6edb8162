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
	# torch (with its own dependencies), numpy and setuptools first, at the pinned versions; then the native
	# deformable convolution compiles (about 30-45 s, once per source and flags) while pip installs the rest,
	# so it is built before the first run needs it and costs the install no extra time
	$(BIN)/python -m pip install --quiet -c requirements.txt torch numpy setuptools
	PYTHONPATH=$(CURDIR) $(BIN)/python -c "from workbench.ops import deform_conv_native as n; n.extension()" & \
	  compile=$$!; \
	  $(BIN)/python -m pip install --quiet -r requirements.txt && \
	  $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . ; \
	  installed=$$?; wait $$compile; test $$installed -eq 0
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
