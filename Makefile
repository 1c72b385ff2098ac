# ovn-lab: the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
LAB := $(VENV)/bin/lab
# python3-venv: `make venv` (Debian's python3 has no ensurepip without it)
APT_PACKAGES := python3-venv openvswitch-switch ovn-central ovn-host iproute2 iputils-ping tcpdump ethtool graphviz openssh-client frr iptables
# every extra: the suite runs the docker and ssh providers too
EXTRAS := docker,ssh,test
TEST_APT_PACKAGES := zsh
DEMO ?= topologies/geneve-router.yaml

.PHONY: install deps test-deps apt venv docker-ready vagrant-ready demo test unit integration lint bench clean

install: deps venv ## Debian packages + .venv with `lab`, linked as /usr/local/bin/lab

deps: ## install missing Debian packages (needs root)
	@$(MAKE) --no-print-directory apt PACKAGES="$(APT_PACKAGES)"

test-deps: ## what only the test suite needs (zsh: the completion test)
	@$(MAKE) --no-print-directory apt PACKAGES="$(TEST_APT_PACKAGES)"

apt:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

docker-ready: ## docker provider: a docker daemon answering (yours if it runs), debootstrap installed
	@bash scripts/docker-ready.sh

vagrant-ready: ## the Vagrantfile with the docker provider: vagrant installed, docker-ready
	@bash scripts/vagrant-ready.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ovn-lab needs Python 3.11+"'
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
	  echo "python3 -m venv needs Debian's python3-venv: run \`make deps\` as root (or apt-get install python3-venv)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	@if [ "$$(id -u)" = 0 ] && [ -d /usr/local/bin ]; then ln -sf "$(CURDIR)/$(LAB)" /usr/local/bin/lab; fi
	@touch $@

demo: install ## bring up the seed lab, check it, leave it up
	$(LAB) up $(DEMO)
	$(LAB) check
	@echo; echo "The lab is up. Try: lab exec vm1 -- ping -c2 20.0.0.10 ; lab nbctl -- show ; lab status ; lab down"

test: install test-deps docker-ready vagrant-ready ## the whole suite: unit + integration (real OVS/OVN and docker, root)
	@$(VENV)/bin/ruff check lab tests benchmarks
	@$(VENV)/bin/python -m pytest tests; rc=$$?; \
	if [ $$rc = 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi; exit $$rc

unit: venv
	$(VENV)/bin/python -m pytest tests/unit

integration: install docker-ready vagrant-ready
	$(VENV)/bin/python -m pytest tests/integration

lint: venv
	$(VENV)/bin/ruff check lab tests benchmarks
	$(VENV)/bin/ruff format --check lab tests benchmarks

bench: install
	$(VENV)/bin/python benchmarks/seed_up_down.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
