# `make run` and `make test` work on a fresh clone: each sets up what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint format migrate superuser bench clean

# HOST and PORT also tell the app its own address: without OPENAI_API_KEY it talks to the
# offline emulator it serves at http://HOST:PORT/emulator/v1.
run: $(VENV)/.installed .env migrate
	HOST=$(HOST) PORT=$(PORT) $(BIN)/daphne -b $(HOST) -p $(PORT) voiceproject.asgi:application

test: $(VENV)/.installed-test tests/sdk-js/node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	node --test tests/js/
	$(BIN)/pytest $(PYTEST_ARGS)

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

bench: $(VENV)/.installed-test
	$(BIN)/python bench/relay_overhead.py
	$(BIN)/python bench/ws_proxy.py
	$(BIN)/python bench/page_latency.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

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
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info tests/sdk-js/node_modules
