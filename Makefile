# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint format bench eval clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) server.py

test: install
	PYTHONFAULTHANDLER=1 $(PY) -m pytest -n auto --maxprocesses=4

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

eval: install
	$(PY) -m nlu eval

bench: install
	$(PY) -m nlu bench
	$(PY) -m dialog bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
