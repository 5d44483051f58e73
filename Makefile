# fleetmon: `make run` shows the agent publishing to a local broker; `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := mosquitto mosquitto-clients iputils-ping openssl prometheus-alertmanager chromium prometheus systemd-journal-remote victoria-metrics microsocks
BENCH_APT_PACKAGES := prometheus-node-exporter glances
AGENT_SOURCES := agent/fleetmon/__init__.py agent/fleetmon/__main__.py agent/fleetmon/cli.py agent/fleetmon/cli_operations.py \
	agent/fleetmon/cli_alerting.py \
	agent/fleetmon/config_reader.py agent/fleetmon/protocol agent/fleetmon/mqtt agent/fleetmon/agent \
	agent/fleetmon/simulate
STAMP := $(VENV)/.installed
include mk/deploy.mk
include mk/console.mk

# A Python 3.8 (JetPack 5's) to run the agent's tests on, when this machine has one.
PY38 ?= $(firstword $(foreach c,$(wildcard $(HOME)/.pyenv/versions/3.8*/bin/python /usr/bin/python3.8 /usr/local/bin/python3.8),$(c)))

.PHONY: help deps venv run demo demo-down test test-python test-py38 chaos lint docs screenshots bench clean

help:
	@echo "make demo   - a lab of four systemd hosts deployed with site.yml: broker, hub, servers, a Jetson"
	@echo "make demo-down - remove the demo and its lab"
	@echo "make run    - a local mosquitto plus the agent; prints what the agent publishes"
	@echo "make test   - lint, Python 3.8 check and all tests (what CI runs)"
	@echo "make console - the hub console's chart library from npm (package-lock.json) into its static files"
	@echo "make screenshots - the console's browser tests, leaving their screenshots in docs/images"
	@echo "make chaos  - the long fault scenarios: outages, kills, stalls, full disks (docs/reliability.md)"
	@echo "make bench  - agent footprint beside node_exporter and glances (docs/benchmarks.md)"

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The console's chart library comes with the venv: the tests, the demo and CI serve the whole page.
venv: $(STAMP) console
$(STAMP): requirements/dev.txt requirements/agent.txt pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements/dev.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $(STAMP)

run: deps venv
	scripts/run-local.sh

# The product's front door on this machine: lab hosts (root, systemd-nspawn), site.yml, a webhook sink.
demo: deps venv
	$(MAKE) --no-print-directory lab-up N=4
	scripts/demo.sh up

demo-down:
	scripts/demo.sh down
	$(MAKE) --no-print-directory lab-down

lint: venv
	$(VENV)/bin/ruff check agent tests benchmarks scripts
	$(VENV)/bin/vermin -q -t=3.8- --no-tips --violations --eval-annotations --no-parse-comments $(AGENT_SOURCES)

docs: venv
	$(PY) -m fleetmon.protocol.catalog > docs/metrics.md

# The pictures in README.md and docs/console.md: the browser tests take them as they check each page.
screenshots: deps venv
	mkdir -p docs/images
	FLEETMON_SCREENSHOTS=docs/images $(VENV)/bin/pytest -q -p no:cacheprovider tests/console

# Two lanes at once, as a 2-core machine has room for (each waits on timers, brokers and hosts much of the
# time): the Python tests (the controller's, the agent's on Python 3.8, the roles' own), and the roles on the
# lab (the linters, molecule). Each lane takes its test ports from its own range (tests/conftest.py free_port).
test: deps lab-deps venv deploy-venv lint
	scripts/test-lanes.sh "python 20000-25999 test-python" "lab 26000-31999 test-molecule"

test-python: venv
	$(VENV)/bin/pytest -q --ignore=tests/deploy
	$(MAKE) --no-print-directory test-py38
	$(MAKE) --no-print-directory test-deploy-units

# The agent runs on JetPack 5's Python 3.8: besides vermin's static check, run its tests on a real 3.8.
test-py38:
	@if [ -z "$(PY38)" ]; then echo "test-py38: no Python 3.8 on this machine; the static vermin check still ran"; exit 0; fi; \
	set -e; [ -x .venv38/bin/pytest ] || { $(PY38) -m venv .venv38 && .venv38/bin/pip install -q -r requirements/py38.txt; }; \
	echo "agent tests on $$(.venv38/bin/python --version)"; \
	.venv38/bin/python -m pytest -q -p no:cacheprovider tests/agent

# The fault suite's long scenarios (marked `chaos`); `make test` runs the short version of each.
chaos: deps venv
	$(VENV)/bin/pytest -v -m chaos -p no:cacheprovider tests

bench: deps venv
	@missing=$$(for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	$(PY) benchmarks/agent_footprint.py

clean:
	rm -rf $(VENV) .venv38 .pytest_cache .ruff_cache
