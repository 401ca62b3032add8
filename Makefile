# The one entry point for people and CI. Every target installs what it needs, and is idempotent.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# Node 22 from package.json first on the PATH: jsii drops its end-of-life banner, and `npx cdk` is pinned.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
CDK := npx --no-install cdk

.PHONY: help install synth lint cfn-lint test test-fast faults docs deploy diff destroy bench local demo clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed ## Install Python (.venv) and Node (node_modules) tooling

synth: install ## Synthesize every stack to cdk.out with the cdk-nag gates
	$(CDK) synth --quiet

cfn-lint: synth ## Lint every synthesized template (errors fail; warnings are shown)
	$(VENV)/bin/cfn-lint --non-zero-exit-code error cdk.out/*.template.json

lint: install ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy lambdas stacks localcloud tools app.py

test: cfn-lint ## The test command: synth (cdk-nag) + cfn-lint + the whole pytest suite
	CDK_OUT=cdk.out $(PY) -m pytest

test-fast: install ## pytest without the CLI synth (the suite synthesizes once itself)
	$(PY) -m pytest

faults: synth ## The full fault suite (200 orders, 30 trials, faults injected): the table and the invariants
	FAULTS=full CDK_OUT=cdk.out $(PY) -m pytest -p no:cacheprovider tests/faults

docs: install ## Regenerate what is derived from the contracts and from cdk.out (API models, schemas, samples, catalog, picture)
	$(PY) -m tools.docs

deploy: synth ## Deploy every stack with your AWS credentials (cdk deploy --all)
	$(CDK) deploy --all --outputs-file cdk-outputs.json

diff: install ## What `make deploy` would change in your account (cdk diff --all)
	$(CDK) diff --all

destroy: install ## Delete every stack (CDK asks first; FORCE=1 does not); retained tables/bucket stay
	$(CDK) destroy --all $(if $(filter 1,$(FORCE)),--force)

local: synth ## Run the app on localcloud (127.0.0.1:4566, LOCALCLOUD_PORT to change) until Ctrl-C
	$(PY) -m localcloud

demo: synth ## Start localcloud, trigger every flow with events/, print the trace and a summary
	$(PY) scripts/demo.py

bench: synth ## Cold starts against the boto3 floor, and order throughput/latency through localcloud
	$(PY) bench/cold_start.py
	$(PY) bench/localcloud.py

.PHONY: redrive
ARGS ?= list
redrive: install ## List the app's DLQs and return parked events (ARGS="list", ARGS="redrive --queue rule --dry-run"; AWS_ENDPOINT_URL for localcloud)
	$(PY) -m tools.redrive $(ARGS)

.PHONY: trace
trace: ## One flow's tree with timings from localcloud: make trace ID=<order id | trial id | signup event id>
	@test -n "$(ID)" || { echo "usage: make trace ID=<order id | trial id | signup event id>" >&2; exit 2; }
	$(PY) -m tools.trace "$(ID)"

clean: ## Remove generated files (not the installed tooling)
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
