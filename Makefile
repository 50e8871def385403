# The whole toolchain: `make run`, `make test`, `make check`, `make bench`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check bench system-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/perfpilot serve

# Debian packages the test suite needs (PostgreSQL server binaries, HypoPG, redis-server).
system-deps:
	bash scripts/install-system-deps

check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

test: $(STAMP) system-deps check
	$(BIN)/pytest

# Each benchmark script in full (helper modules such as index_advisor_hotel.py are not scripts).
BENCHMARKS := monitor_overhead index_advisor scheduler_lateness cache scaling

bench: $(STAMP) system-deps
	for name in $(BENCHMARKS); do $(BIN)/python bench/$$name.py || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
