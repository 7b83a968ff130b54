# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo-output
EX     := examples/genoml2-discrete
TRIALS ?= 30

.PHONY: venv demo check test test-fast bench clean

$(BIN)/genoml-search: pyproject.toml setup.py $(wildcard genoml_search/data/_*.c)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps "adelie==1.1.52" && $(BIN)/pip install --quiet "ipython>=8.17,<9"
	touch $@

$(VENV)/.test-extras: $(BIN)/genoml-search
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/genoml-search

demo: $(BIN)/genoml-search
	bash scripts/demo.sh $(BIN)/genoml-search $(EX) $(DEMO) $(TRIALS)

# The architecture (layer contracts in .importlinter) and the types (mypy, pyproject.toml) are checked first.
check: $(VENV)/.test-extras
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

# Two test processes (pytest-xdist), each taking whole files: the suite is mostly single-threaded subprocesses.
# TEST_JOBS=0 runs it in one process.
TEST_JOBS ?= 2

test: check
	$(BIN)/python -m pytest -q -ra -n $(TEST_JOBS) --dist loadfile

test-fast: $(VENV)/.test-extras
	$(BIN)/python -m pytest -q -ra -n $(TEST_JOBS) --dist loadfile -m "not slow"

bench: $(VENV)/.test-extras
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(DEMO) .pytest_cache
