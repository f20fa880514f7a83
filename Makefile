# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up here.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180

.PHONY: install demo test test-fast lint imports typecheck bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m backoffice.browser install
	$(PY) -m connectors.ocr install
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/backoffice demo

# Two workers, a whole test file each, the heaviest files first (tests/conftest.py); TEST_WORKERS=0 for one process.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

test: $(STAMP)
	$(PY) -m pytest $(XDIST)

test-fast: $(STAMP)
	$(PY) -m pytest $(XDIST) -m "not slow"

lint: $(STAMP) imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Layering (DESIGN.md): the import-linter contracts, and no import circle inside the core.
imports: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q -p no:cacheprovider tests/core/test_layering.py

# Every bench at --quick size; one table of ratios against baselines measured in the same run.
bench: $(STAMP)
	@for f in bench/*_bench.py bench/extract_accuracy.py bench/ocr_accuracy.py; do $(PY) $$f --quick --json || exit 1; done \
		| $(PY) bench/_report.py table

clean:
	rm -rf $(VENV) .backoffice .pytest_cache .mypy_cache .ruff_cache *.egg-info
