# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   - install, build the knowledge store and index, start the API on 127.0.0.1:8000
#   make test   - install (with test extras) and run the whole test suite
#
# Installs use uv (installed from PyPI into the venv first; ~20x faster than pip on the ~170 pinned
# packages); `make install-dev INSTALLER=pip` uses plain pip, and so does the uv recipe itself when uv
# cannot be installed. Installs and the knowledge build are stamp files: `make demo` reinstalls only
# when pyproject.toml or constraints.txt changed and rebuilds the store only when its sources or
# code changed (`make build` always rebuilds; `make reinstall` forces an install).
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLER ?= uv
UV_SPEC ?= uv==0.13.9
# The CPU build of torch lies on disk on these machines; without it an installer would fetch a CUDA build.
WHEELS := $(wildcard /opt/wheels)
FIND_LINKS := $(if $(WHEELS),--find-links $(WHEELS),)
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-*+cpu-cp311-*.whl))
HOST ?= 127.0.0.1
PORT ?= 8000
# Where settings.py keeps the embedded store (VAR_DIR, default var/ beside the sources).
VAR := $(or $(VAR_DIR),var)
DEPS := pyproject.toml constraints.txt
DEV_TARGET := .[dev,st]
STAMP_INSTALL := $(VENV)/.stamp-install
STAMP_DEV := $(VENV)/.stamp-install-dev
STAMP_BUILD := $(VAR)/.stamp-build
KNOWLEDGE_INPUTS := $(shell find knowledge retrieval db -type f -not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null)

.PHONY: install install-dev reinstall demo build test screenshots bench lint check clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)

# $(call install_pkgs,<pip target>): uv with the torch wheel first when the target has the st extra;
# plain pip when INSTALLER=pip or when uv cannot be installed.
define install_pkgs
	@if [ "$(INSTALLER)" != pip ] && $(BIN)/python -m pip install -q $(UV_SPEC); then \
	  set -e; \
	  if [ -n "$(TORCH_WHEEL)" ] && [ -n "$(findstring st,$(1))" ]; then \
	    echo "uv: torch from $(TORCH_WHEEL)"; \
	    $(BIN)/uv pip install -q --python $(BIN)/python "$(TORCH_WHEEL)"; \
	  fi; \
	  echo "uv pip install -c constraints.txt -e '$(1)'"; \
	  $(BIN)/uv pip install -q --python $(BIN)/python $(FIND_LINKS) -c constraints.txt -e "$(1)"; \
	else \
	  set -e; \
	  [ "$(INSTALLER)" = pip ] || echo "uv unavailable: installing with pip"; \
	  $(BIN)/python -m pip install -q --upgrade pip; \
	  echo "pip install -c constraints.txt -e '$(1)'"; \
	  $(BIN)/python -m pip install -q $(FIND_LINKS) -c constraints.txt -e "$(1)"; \
	fi
endef

$(STAMP_INSTALL): $(DEPS) | $(BIN)/python
	$(call install_pkgs,.)
	touch $@

# The dev install is a superset of the plain one, so it also counts as that.
$(STAMP_DEV): $(DEPS) | $(BIN)/python
	$(call install_pkgs,$(DEV_TARGET))
	touch $@ $(STAMP_INSTALL)

install: $(STAMP_INSTALL)

install-dev: $(STAMP_DEV)

reinstall:
	rm -f $(STAMP_INSTALL) $(STAMP_DEV)
	$(MAKE) install-dev

$(STAMP_BUILD): $(STAMP_INSTALL) $(KNOWLEDGE_INPUTS)
	$(BIN)/python -m knowledge build
	@mkdir -p $(VAR) && touch $@

build: $(STAMP_INSTALL)
	$(BIN)/python -m knowledge build
	@mkdir -p $(VAR) && touch $(STAMP_BUILD)

demo: $(STAMP_BUILD)
	@echo "API: http://$(HOST):$(PORT)/  (web chat), POST /api/v1/chat, docs at /docs"
	@echo "Office e-mail of filed petitions is saved under $(or $(DEV_MAIL_DIR),$(VAR)/mail)/ (development mail sink)"
	$(BIN)/python -m uvicorn api.main:app --no-proxy-headers --host $(HOST) --port $(PORT)

test: install-dev
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Refresh the README's screenshots (the browser tests write to a temporary directory otherwise).
screenshots: install-dev
	SCREENSHOT_DIR=docs HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q tests/browser

bench: install
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

lint: install-dev
	$(BIN)/ruff check .

# Static checks CI runs beside the tests: ruff, mypy (configured in pyproject.toml), and the
# catalogue audit (every fact a citizen is told has a source).
check: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	@mkdir -p $(VAR) && $(BIN)/python -m knowledge tthc audit --strict > $(VAR)/tthc-audit.txt; rc=$$?; \
	  tail -n 1 $(VAR)/tthc-audit.txt; exit $$rc

clean:
	rm -rf var .pytest_cache
