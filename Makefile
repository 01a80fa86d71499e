# rollbook: `make run` serves on SQLite; `make test` runs the tests; `make lint` the gates.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint bench demo clean

# (Re)create the virtualenv and install rollbook with its development tools. The stamp file
# is refreshed whenever pyproject.toml changes, so a plain `make test` keeps .venv current.
$(BIN)/rollbook: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(BIN)/rollbook

install: $(BIN)/rollbook

run: install
	$(BIN)/rollbook serve --host $(HOST) --port $(PORT)

demo: install
	$(BIN)/rollbook demo

test: install
	tools/install-chromium
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
