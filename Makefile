# PartnerGuard: `make run` starts the whole platform, `make test` checks it.
# Both install what is missing first; a fresh machine needs only Python 3.11+ and the package index.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
# uv from the machine if it has one, otherwise a private copy installed from PyPI.
UV := $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/bin/uv)
E2E_LOG := .e2e-test.log
WORKSPACE_MANIFESTS := pyproject.toml uv.lock $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)

.PHONY: install run test lint typecheck unit format bench clean compose-env

# Python caches the bytecode of what it imports unless told not to (some machines set
# PYTHONDONTWRITEBYTECODE for every shell). The tests, the benchmarks and `make run` start many
# processes, and each would compile every module it imports again: importing two services'
# apps took 3.4 s of CPU here, 1.6 s with the cache. (The image compiles its bytecode at build.)
unexport PYTHONDONTWRITEBYTECODE

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(WORKSPACE_MANIFESTS) | $(UV)
	$(UV) sync --frozen --all-packages
	@touch $@

install: .venv/.synced

run: install
	$(UV) run --frozen partnerguard run

# docker compose's secrets, made once into .env (kept private, never committed).
compose-env:
	$(PYTHON) deploy/compose/new_env.py

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: install
	MYPYPATH=libs/common/src:libs/cli/src:services/gateway/src:services/onboarding/src:services/billing/src:services/monitoring/src:services/enforcement/src $(UV) run --frozen mypy -p partnerguard.common -p partnerguard.cli -p partnerguard.gateway -p partnerguard.onboarding -p partnerguard.billing -p partnerguard.monitoring -p partnerguard.enforcement

# The end-to-end suite (the whole platform as processes) runs beside the rest: both mostly wait
# on servers, so together they take about as long as the longer one. Its output follows.
unit: install
	@$(UV) run --frozen pytest -q -p no:cacheprovider tests/e2e > $(E2E_LOG) 2>&1 & e2e=$$!; \
	$(UV) run --frozen pytest -q --ignore=tests/e2e; rest=$$?; \
	wait $$e2e; ended=$$?; echo "--- tests/e2e ($(E2E_LOG)) ---"; cat $(E2E_LOG); \
	test $$rest -eq 0 -a $$ended -eq 0

test: lint typecheck unit

format: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

bench: install
	$(UV) run --frozen python -m bench

clean:
	rm -rf .venv $(TOOLS) .pytest_cache .mypy_cache .ruff_cache $(E2E_LOG)
