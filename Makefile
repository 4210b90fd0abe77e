# Two commands: `make run` starts warroom; `make test` runs every check CI runs.
# `make run` installs only what running needs; the dev tools come with `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SUM := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
RUN_STAMP := $(VENV)/.installed-run-$(SUM)
DEV_STAMP := $(VENV)/.installed-dev-$(SUM)

.PHONY: run test lint install

$(RUN_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@rm -f $(VENV)/.installed-run-*; touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-dev-* $(VENV)/.installed-run-*; touch $(DEV_STAMP) $(RUN_STAMP)

install: $(DEV_STAMP)

run: $(RUN_STAMP)
	$(BIN)/warroom serve

lint: $(DEV_STAMP)
	$(BIN)/ruff check warroom tests bench
	$(BIN)/ruff format --check warroom tests bench
	$(BIN)/mypy warroom

test: lint
	$(BIN)/pytest -n auto
