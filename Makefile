# `make run` and `make test` work on a fresh clone: each sets up what it needs first, system
# packages included (`make deps`).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# Debian's Chromium, which the browser tests drive (tests/support/browser.py).
CHROMIUM ?= /usr/bin/chromium
# Debian's PostgreSQL servers, one folder per major version (make test-postgres).
POSTGRES_SERVERS ?= /usr/lib/postgresql/*/bin/postgres
# Debian's nginx, which tests the example configuration in deploy/ in front of the app.
NGINX ?= /usr/sbin/nginx

.PHONY: deps run run-prod test test-django6 test-postgres lint format migrate superuser bench clean

# The system packages (Debian's names) each target needs. `make deps` alone checks for all.
RUN_PACKAGES := python3-venv
TEST_PACKAGES := python3-venv nodejs npm chromium postgresql redis-server nginx systemd
DEPS_PACKAGES ?= $(TEST_PACKAGES)
run run-prod lint format migrate superuser: DEPS_PACKAGES = $(RUN_PACKAGES)
test bench: DEPS_PACKAGES = $(TEST_PACKAGES)

# Install whichever of DEPS_PACKAGES are missing: with apt-get when root on Debian, otherwise
# stop with one line naming them. When nothing is missing it only looks, in milliseconds.
deps:
	@missing=""; \
	for package in $(DEPS_PACKAGES); do \
		case $$package in \
			python3-venv) $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null ;; \
			nodejs) command -v node >/dev/null ;; \
			npm) command -v npm >/dev/null ;; \
			chromium) [ -x "$(CHROMIUM)" ] ;; \
			postgresql) for server in $(POSTGRES_SERVERS); do [ -x "$$server" ]; done ;; \
			redis-server) command -v redis-server >/dev/null ;; \
			nginx) [ -x "$(NGINX)" ] ;; \
			systemd) command -v systemd-analyze >/dev/null ;; \
		esac || missing="$$missing $$package"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "make deps: installing$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y --no-install-recommends $$missing; \
	else \
		echo "make deps: missing system packages:$$missing; install them, then run make again: sudo apt-get install$$missing" >&2; \
		exit 1; \
	fi

run: deps $(VENV)/.installed .env migrate
	$(BIN)/daphne -b $(HOST) -p $(PORT) voiceproject.asgi:application

# Production on one machine (README, "Deploying"): PROCESSES uvicorn workers sharing
# HOST:PORT, after the migrations and collectstatic. The settings come from the environment
# or .env.local: DEBUG=false, SECRET_KEY, ALLOWED_HOSTS, and REDIS_URL for more than one
# process. uvicorn was measured the lighter server for the proxy (README, "Benchmarks").
# The workers share their Prometheus metrics through METRICS_DIR, emptied at each start.
PROCESSES ?= 2
GRACE ?= 10
METRICS_DIR ?= $(CURDIR)/.metrics
run-prod: deps $(VENV)/.installed
	$(BIN)/python manage.py check --deploy
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) exec $(BIN)/uvicorn --workers $(PROCESSES) \
		--host $(HOST) --port $(PORT) \
		--ws websockets-sansio --proxy-headers --timeout-graceful-shutdown $(GRACE) \
		voiceproject.asgi:application

test: deps $(VENV)/.installed-test tests/sdk-js/node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	node --test tests/js/
	$(BIN)/pytest $(PYTEST_ARGS)
	$(BIN)/pytest --ds=tests.project.settings tests/project $(PYTEST_ARGS)

# The same suites on PostgreSQL: a throwaway cluster on loopback in a temporary folder
# (tests/support/postgres.py), which every server the tests start records into.
# Two kinds of tests run once, in `make test`, and the suites' second and third runs (on
# PostgreSQL and on Django 6) leave them out: the emulator's own tests (no database, no
# Django), and the browser tests (the page's modules and Chromium are the same on either
# database and either Django; the records and flows its server makes, the integration
# tests cover on both).
AGAIN_ARGS := --ignore=tests/unit/emulator --ignore-glob='tests/integration/test_emulator_*' \
	--ignore=tests/browser
# Likewise the example nginx and systemd files' own checks (neither database nor Django).
PROJECT_AGAIN_ARGS := --ignore=tests/project/test_deploy_files.py
# The Django 6 run also leaves out the tests of load, upstream faults, shutdown and taking
# over another process's calls: they exercise the servers, the database and Redis, which
# are the same under either Django, and run on SQLite and on PostgreSQL.
DJANGO6_ARGS := $(AGAIN_ARGS) --ignore=tests/resilience/test_concurrency.py \
	--ignore=tests/resilience/test_shutdown.py --ignore=tests/resilience/test_fault_matrix.py \
	--ignore=tests/integration/test_sideband_takeover.py
test-postgres: DEPS_PACKAGES = $(TEST_PACKAGES)
test-postgres: deps $(VENV)/.installed-test tests/sdk-js/node_modules/.installed
	$(BIN)/python -m tests.support.postgres -- $(BIN)/pytest $(AGAIN_ARGS) $(PYTEST_ARGS)
	$(BIN)/python -m tests.support.postgres -- \
		$(BIN)/pytest --ds=tests.project.settings tests/project $(PROJECT_AGAIN_ARGS) $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(VENV)/.installed .env
	$(BIN)/python manage.py migrate --noinput

superuser: $(VENV)/.installed .env
	$(BIN)/python manage.py createsuperuser

bench: deps $(VENV)/.installed-test
	$(BIN)/python bench/relay_overhead.py
	$(BIN)/python bench/ws_proxy.py
	$(BIN)/python bench/page_latency.py

$(BIN)/python: | deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The project serves the app (on SQLite or PostgreSQL, alone or beside others through
# Redis) and, without a key, its emulator; the tests need everything.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[project,production,emulator]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[project,production,emulator,test]'
	touch $@ $(VENV)/.installed

# The same suites on Django 6.x, which needs Python 3.12 or newer: PYTHON6 if set, else the
# first that runs of python3.14, python3.13, python3.12 on PATH and pyenv's 3.12+.
VENV6 ?= .venv-django6
PYTHON6 ?=

test-django6: DEPS_PACKAGES = $(TEST_PACKAGES)
test-django6: deps $(VENV6)/.installed-test tests/sdk-js/node_modules/.installed
	$(VENV6)/bin/python -c 'import django; print("Django", django.get_version())'
	$(VENV6)/bin/pytest $(DJANGO6_ARGS) $(PYTEST_ARGS)
	$(VENV6)/bin/pytest --ds=tests.project.settings tests/project $(PROJECT_AGAIN_ARGS) \
		$(PYTEST_ARGS)

$(VENV6)/.installed-test: pyproject.toml
	@python6="$(PYTHON6)"; \
	for candidate in python3.14 python3.13 python3.12 $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3; do \
		[ -n "$$python6" ] && break; \
		"$$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
			&& python6=$$candidate; \
	done; \
	if [ -z "$$python6" ]; then \
		echo "make test-django6: Django 6 needs Python 3.12 or newer and none was found; set PYTHON6=/path/to/python3.12" >&2; \
		exit 1; \
	fi; \
	echo "$(VENV6): $$("$$python6" --version) ($$python6)"; \
	"$$python6" -m venv $(VENV6)
	$(VENV6)/bin/pip install --quiet --upgrade pip
	$(VENV6)/bin/pip install --quiet -e '.[project,production,emulator,test]' 'Django>=6,<7'
	touch $@

# Test-only: the official JS SDK the proxy is checked against. No lock file (it would record
# download addresses); package.json pins the range.
tests/sdk-js/node_modules/.installed: tests/sdk-js/package.json
	npm install --prefix tests/sdk-js --no-package-lock --no-audit --no-fund --loglevel=error
	touch $@

# A local-development .env on first run: DEBUG on and a fresh SECRET_KEY. Edit it freely;
# settings from the environment or .env.local take precedence. Never used in production.
.env: | $(BIN)/python
	@printf '%s\n' '# Made by `make run` for local development; see .env.example for every setting.' \
		'DEBUG=true' \
		"SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "wrote $@ (DEBUG=true, new SECRET_KEY) for local development"

clean:
	rm -rf $(VENV) $(VENV6) .pytest_cache .ruff_cache *.egg-info tests/sdk-js/node_modules
