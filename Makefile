# elt — the two commands a user needs are `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_STAMP := node_modules/.elt-lock-hash
LOCK_HASH = $(shell sha256sum package-lock.json | cut -c1-16)
NPM_CACHE ?= $(HOME)/.cache/elt/npm

.PHONY: help deps test test-node typecheck up down clean status bench bench-quick

help:
	@echo "make up      start source + destination PostgreSQL, the demo workload and the replicator (state in .elt/)"
	@echo "make down    stop what make up started"
	@echo "make status  replication status of the local stack"
	@echo "make test    install what is needed and run every test suite"
	@echo "make clean   stop and remove all local state (.elt/)"

# npm ci only when package-lock.json changed; the download cache lives outside the clone.
deps: $(NODE_STAMP)
$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund --cache "$(NPM_CACHE)" --prefer-offline
	echo "$(LOCK_HASH)" > $(NODE_STAMP)

typecheck: deps
	npx tsc --noEmit

test-node: deps
	npx vitest run

test: typecheck test-node

up: deps
	node bin/elt.js up

down: deps
	node bin/elt.js down

status: deps
	node bin/elt.js status --local

clean: deps
	node bin/elt.js down --clean
