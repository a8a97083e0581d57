# The README's two commands: `make demo` and `make test`. Both work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/connectapp
TEST_BROKER_URL ?= redis://127.0.0.1:6379/0
DEMO_PORT ?= 8000

.PHONY: demo test lint bench venv messages catalogues

# The message catalogues, compiled with gettext's msgfmt (wheels compile them in setup.py).
MO_FILES := $(patsubst %.po,%.mo,$(wildcard connectapp/*/locale/*/LC_MESSAGES/django.po locale/*/LC_MESSAGES/django.po))
%.mo: %.po
	msgfmt --check -o $@ $<
messages: $(MO_FILES)

## Update the catalogues from the code and templates (then translate what is new, and `make messages`).
catalogues:
	cd connectapp && ../$(PY) ../scripts/makemessages.py connectapp
	$(PY) scripts/makemessages.py .

$(VENV)/.installed: requirements/base.txt requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $@

venv: $(VENV)/.installed messages

## Run the demo: embedded SQLite, file-system broker, provider stand-ins, demo user, worker, schedule.
demo: venv
	DEBUG=true CONNECTAPP_SANDBOX=true CONNECTAPP_SANDBOX_URL=http://127.0.0.1:$(DEMO_PORT)/sandbox \
		$(PY) manage.py rundemo --port $(DEMO_PORT)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## Run the whole test suite against PostgreSQL and Redis (both must be running).
test: lint
	DEBUG=true DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
		CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) -m pytest $(PYTEST_ARGS)

## Benchmark connectapp against the physical floor, then the API and the events (PostgreSQL
## and Redis running; a database `<name>_bench` is created and dropped each time).
## BENCH_ARGS="--sizes 10000,100000,1000000" etc.; SURFACE_ARGS="--api-clients 1,4" etc.
bench: venv
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
		CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) -m bench $(BENCH_ARGS)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
		CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
		$(PY) -m bench.surface $(SURFACE_ARGS)
