# Thin targets; the work is in the `kehu` command and in pytest.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install assets run test bench lint schema clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kehu needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) assets

# GraphiQL, React, htmx and ECharts from the npm registry into static/vendor/ (not committed).
assets: $(STAMP)
	$(BIN)/python -m server.assets

# kehu on SQLite (var/kehu.sqlite3) with demo data, at http://127.0.0.1:8000
run: install
	$(BIN)/kehu migrate
	$(BIN)/kehu seed-demo --if-empty
	$(BIN)/kehu serve

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# kehu against the raw-SQL floor on PostgreSQL; KEHU_BENCH_SCALE=1 is 100,000 customers.
bench: install
	$(BIN)/python -m tests.bench

lint: $(STAMP)
	$(BIN)/ruff check .

# Write schema.graphql from the code (a test fails while the two differ).
schema: $(STAMP)
	$(BIN)/kehu export-schema --output schema.graphql

clean:
	rm -rf $(VENV) var static/vendor .pytest_cache
