# Lookout Scheduler Console. `make run` and `make test` set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test lint fmt bench clean

# (Re)install when pyproject.toml changes; the venv is made when missing.
$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

# `make run PORT=8001` when 8000 is taken (ENDPOINT_PORT likewise).
PORT ?= 8000
ENDPOINT_PORT ?= 4567
run: $(INSTALLED)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_local_login
	$(BIN)/python manage.py run_console --port $(PORT) --endpoint-port $(ENDPOINT_PORT)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy scheduler_ui tests bench

test: lint
	$(BIN)/python -m pytest

# Needs PostgreSQL and Redis (see docs/benchmarks.md); not part of `make test`.
bench: $(INSTALLED)
	$(BIN)/python -m bench.run

fmt: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var
