# The Ansible deployment: the lab of systemd hosts, the deploy venv, and the deployment tests.
# Included by the top-level Makefile.
# Keep `make` alone printing the help of the top-level Makefile.
.DEFAULT_GOAL := help
DEPLOY_VENV ?= .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
LAB_APT_PACKAGES := debootstrap systemd-container apt-cacher-ng openssh-client openssl mosquitto-clients iproute2
N ?= 3
DEPLOY_ENV := PATH="$(CURDIR)/$(DEPLOY_VENV)/bin:$$PATH" ANSIBLE_ROLES_PATH="$(CURDIR)/roles" ANSIBLE_FORCE_COLOR=0

.PHONY: lab-deps deploy-venv lab-up lab-down lab-status deploy-lint deploy-catalog test-deploy test-deploy-units \
	test-molecule

lab-deps:
	@missing=$$(for p in $(LAB_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deploy-venv: $(DEPLOY_STAMP)
$(DEPLOY_STAMP): requirements/deploy.txt
	python3 -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install -q --upgrade pip
	$(DEPLOY_VENV)/bin/pip install -q -r requirements/deploy.txt
	touch $(DEPLOY_STAMP)

# N hosts: lab1 (broker, hub), lab2.. (servers; with N >= 4 the last one is a Jetson replaying tegrastats).
lab-up: lab-deps deploy-venv
	lab/lab.sh up --count $(N) --inventory inventory/lab/hosts.yml
	@# The hosts' wheelhouse (Debian 12: Python 3.11), as the agent role would build it on first use.
	$(DEPLOY_VENV)/bin/python roles/fleetmon_common/files/build_wheelhouse.py --source . \
	  --requirements requirements/agent.txt --python 3.11 --arch $$(uname -m) --hash-ignore hub \
	  --out build/wheelhouse/agent-py3.11-$$(uname -m)
	@echo 'deploy: PATH=$$PWD/$(DEPLOY_VENV)/bin:$$PATH ansible-playbook -i inventory/lab playbooks/broker.yml playbooks/agents.yml'

lab-down:
	lab/lab.sh down
	rm -f inventory/lab/hosts.yml

lab-status:
	lab/lab.sh status

deploy-catalog: venv
	$(PY) lab/gen_agent_catalog.py

deploy-lint: deploy-venv
	$(DEPLOY_ENV) $(DEPLOY_VENV)/bin/yamllint -s roles molecule playbooks site.yml inventory/example .yamllint .ansible-lint
	$(DEPLOY_ENV) $(DEPLOY_VENV)/bin/ansible-lint -qq --profile production roles playbooks molecule site.yml

# The roles on real systemd hosts. Needs root (namespaces, overlays, nspawn): anything else is a failure,
# never a skip, so a CI runner that cannot build the lab is noticed.
test-deploy: test-deploy-units test-molecule

# The roles' own tests on this machine (rendering, filters, preflights, a real Prometheus on the rules).
test-deploy-units: deploy-venv venv
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/deploy

test-molecule: lab-deps deploy-venv venv
	@if [ "$$(id -u)" != 0 ]; then echo "test-molecule: FAILED: the lab needs root (systemd-nspawn, namespaces, overlay mounts)" >&2; exit 1; fi
	$(MAKE) --no-print-directory deploy-lint
	$(DEPLOY_ENV) $(DEPLOY_VENV)/bin/molecule test --all
