# Everything a fresh machine needs is created here: `make run` and `make test` work on a clone
# that has only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
# pip's own lines say what it fetches; --progress-bar off keeps a log readable when not on a terminal
PIP := $(BIN)/python -m pip install --disable-pip-version-check --progress-bar off

.PHONY: install install-run run serve test bench clean node-dotenv

# What runs the product (the TUI, the command line and the server), nothing else: `make run`.
$(RUN_STAMP): pyproject.toml Makefile
	@echo "make: creating $(VENV) with $$($(PYTHON) --version)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "make: installing Site Secrets and what it runs on (httpx, h11, pydantic, cryptography,"
	@echo "      jsonschema, attrs, google-re2, textual, shtab): about 60 MB, 20 s to 3 min by link and machine load"
	$(PIP) -e . --config-settings editable_mode=compat
	@echo "make: compiling the bytecode of shared/, server/ and tui/ (pip does it for what it installs,"
	@echo "      an editable install leaves ours to the first start, which PYTHONDONTWRITEBYTECODE skips)"
	$(BIN)/python -m compileall -q shared server tui
	touch $(RUN_STAMP)

# Then the test, PostgreSQL and benchmark extras: `make test` and `make bench`.
$(STAMP): $(RUN_STAMP)
	@echo "make: adding the test extras (pytest, hypothesis, schemathesis, psycopg, ...)"
	$(PIP) -e '.[dev]' --config-settings editable_mode=compat
	touch $(STAMP)

install-run: $(RUN_STAMP)

install: $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/sitesecrets local

serve: $(RUN_STAMP)
	test -f data/secrets.db || $(BIN)/sitesecrets-server init --data-dir data
	$(BIN)/sitesecrets-server serve --data-dir data

# The server tests run on PostgreSQL too when one answers at 127.0.0.1:5432 (CI has one) or at
# $SITESECRETS_TEST_DATABASE_URL; set that empty to run SQLite alone. See tests/dbbackend.py.
PG_TEST_ENV = SITESECRETS_TEST_DATABASE_URL="$${SITESECRETS_TEST_DATABASE_URL-$$($(BIN)/python tests/dbbackend.py)}"

# One pytest process per core and three more (`TEST_WORKERS=0` for one process), a test file whole
# on one worker (so its module fixtures are built once). The TUI, CLI and durability tests spend
# much of their time waiting (a pilot's pauses, fsyncs, child processes, servers starting), so
# workers beyond the cores fill the gaps. Measured on 2 cores with CI's command, 4,656 tests:
# 3 workers 640 s of pytest, 4 workers 572 s, 5 workers 559 s.
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 3)')
PARALLEL = -n $(TEST_WORKERS) --dist loadfile

test: $(STAMP)
	$(PG_TEST_ENV) $(BIN)/python -m pytest $(PARALLEL) $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

# the long variants of the reliability suite: 200 kill -9 rounds, 10 s of 50 writers, a 40 s database outage
test-long: $(STAMP)
	$(PG_TEST_ENV) SITESECRETS_CRASH_ROUNDS=200 SITESECRETS_WRITERS_SECONDS=10 SITESECRETS_LONG=1 \
		$(BIN)/python -m pytest -o timeout=1800 $(PARALLEL) $(PYTEST_ARGS)

# node's dotenv for the tests that read our exports back with it (they skip without it); the only
# target that fetches from npm, so `make test` never needs the network for it
node-dotenv:
	npm install --prefix .node --no-save --no-audit --no-fund dotenv@18

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
