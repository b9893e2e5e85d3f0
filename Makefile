# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   - install, build the knowledge store and index, start the API on 127.0.0.1:8000
#   make test   - install (with test extras) and run the whole test suite
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch lies on disk on these machines; without it pip would fetch a CUDA build.
PIP_EXTRA := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev demo build test bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q $(PIP_EXTRA) -c constraints.txt -e .

install-dev: $(BIN)/python
	$(BIN)/pip install -q $(PIP_EXTRA) -c constraints.txt -e ".[dev,st]"

build: install
	$(BIN)/python -m knowledge build

demo: build
	@echo "API: http://$(HOST):$(PORT)/  (web chat), POST /api/v1/chat, docs at /docs"
	$(BIN)/python -m uvicorn api.main:app --no-proxy-headers --host $(HOST) --port $(PORT)

test: install-dev
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

lint: install-dev
	$(BIN)/ruff check .

clean:
	rm -rf var .pytest_cache
