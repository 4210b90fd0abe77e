# Two commands: `make run` starts warroom; `make test` runs every check CI runs.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint install

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/warroom serve

lint: $(STAMP)
	$(BIN)/ruff check warroom tests bench
	$(BIN)/ruff format --check warroom tests bench
	$(BIN)/mypy warroom

test: lint
	$(BIN)/pytest -n auto
