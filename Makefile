# Two commands: `make run` (set up everything and serve the demo) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Reinstall whenever pyproject.toml changes (the stamp name carries its hash).
STAMP  := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi.py

.PHONY: install run test test-sqlite test-postgres lint format db demo clean bench soak

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

db: install
	$(BIN)/flask db upgrade

demo: db
	$(BIN)/flask pars seed-demo

run: demo
	@echo "Serving on http://$(HOST):$(PORT) — sign in as demo@example.org / demo"
	$(BIN)/flask run --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check pars_app tests

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format pars_app tests

# The whole suite on SQLite (unit, services, web, security, browser), then the database-facing
# suites again on PostgreSQL. Without a reachable PostgreSQL (and CI unset) the second pass skips
# with the reason; in CI it must run.
test: lint test-sqlite test-postgres

test-sqlite: install
	$(BIN)/python -m pytest

test-postgres: install
	PARS_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -m "not browser" \
		tests/services tests/web tests/security tests/postgres

# Benchmarks (bench/, DESIGN.md §7): ratios against baselines measured in the same run, one
# table, bench/results.json. SQLite by default; BENCH_DATABASE_URL=postgresql://… for PostgreSQL.
bench: install
	$(BIN)/python -m bench $(ARGS)

# Load and soak (issue 8): gunicorn with 4 workers on SQLite, then on PostgreSQL (its public
# schema in PG_TEST_URL is replaced), many simulated coordinators for a fixed time, then the
# database is checked against each client's ledger. ARGS="--seconds 15 --clients 6" shortens it.
soak: install
	$(BIN)/python -m bench.soak --postgres $(PG_TEST_URL) $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis instance/pars.sqlite3*
