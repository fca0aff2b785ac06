# Everything a fresh machine needs is created here: `make run` and `make test` work on a clone
# that has only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run serve test bench clean node-dotenv

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/sitesecrets local

serve: $(STAMP)
	test -f data/secrets.db || $(BIN)/sitesecrets-server init --data-dir data
	$(BIN)/sitesecrets-server serve --data-dir data

# The server tests run on PostgreSQL too when one answers at 127.0.0.1:5432 (CI has one) or at
# $SITESECRETS_TEST_DATABASE_URL; set that empty to run SQLite alone. See tests/dbbackend.py.
PG_TEST_ENV = SITESECRETS_TEST_DATABASE_URL="$${SITESECRETS_TEST_DATABASE_URL-$$($(BIN)/python tests/dbbackend.py)}"

test: $(STAMP)
	$(PG_TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

# the long variants of the reliability suite: 200 kill -9 rounds, 10 s of 50 writers
test-long: $(STAMP)
	$(PG_TEST_ENV) SITESECRETS_CRASH_ROUNDS=200 SITESECRETS_WRITERS_SECONDS=10 SITESECRETS_LONG=1 \
		$(BIN)/python -m pytest -o timeout=1800 $(PYTEST_ARGS)

# node's dotenv for the tests that read our exports back with it (they skip without it); the only
# target that fetches from npm, so `make test` never needs the network for it
node-dotenv:
	npm install --prefix .node --no-save --no-audit --no-fund dotenv@18

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
