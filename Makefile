# One entry point for people and CI. `make test` is what .ci/run and the README call.
# Stages stop at the first failure; each prints its wall time (scripts/stage.sh).
SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
STAGE := scripts/stage.sh
PYTEST_ARGS ?=

.PHONY: help setup test lint sanity units ansible-versions integration modules-distro molecule downstream docs demo clean bench bench-smoke

help:
	@echo "make setup        system packages, .venv, .tmp/collections (scripts/setup.sh)"
	@echo "make test         setup, lint, sanity, units, integration, modules-distro (stops at the first failure)"
	@echo "make lint         ansible-lint (production profile), yamllint, antsibull-changelog lint"
	@echo "make sanity       ansible-test sanity --local --python 3.11 (on a copy of the checkout)"
	@echo "make units        ansible-test units --local --python 3.11 --requirements"
	@echo "make integration  pytest tests/integration tests/uml: every integration test in one pool of two workers"
	@echo "                  (ansible-versions, molecule, downstream and docs included; each is also a target of its own)"
	@echo "make ansible-versions  ansible-core 2.17 and 2.18: units, sanity, vxlan end to end (scripts/ansible-versions.sh)"
	@echo "make modules-distro  the module suite again, run by /usr/bin/python3 with Debian's python3-pyroute2 (0.7.2)"
	@echo "make molecule     molecule scenarios host-gw, vxlan, crosssubnet, machines (this kernel), ipip (second kernel)"
	@echo "make downstream   build, install and use the collection from a folder outside the repository"
	@echo "make docs         ansible-doc for every plugin and role, antsibull-docs lint, ansible-builder (execution environment)"
	@echo "make demo         scripts/demo.sh"
	@echo "make bench        benchmarks/run.py: control plane 2-64 hosts, settings, data plane -> docs/benchmarks/ (20-40 min)"
	@echo "make bench-smoke  benchmarks/smoke.sh: 2-3 minute benchmark run; checks only that the tables are written (not in make test)"

setup:
	@$(STAGE) setup scripts/setup.sh

# Recursive makes so each stage runs in order and the first failure stops the rest.
test:
	@log=$$(mktemp); trap 'rm -f $$log' EXIT; start=$$(date +%s); rc=0; \
	for stage in setup lint sanity units integration modules-distro; do \
	  STAGE_LOG=$$log $(MAKE) --no-print-directory $$stage || { rc=$$?; break; }; \
	done; \
	echo "=== summary (wall time per stage)"; cat $$log; \
	echo "=== total $$(( $$(date +%s) - start ))s, $$([ $$rc -eq 0 ] && echo passed || echo FAILED)"; \
	exit $$rc

lint:
	@$(STAGE) lint bash -c 'set -e; ansible-lint; yamllint -s .; antsibull-changelog lint'

sanity:
	@$(STAGE) sanity scripts/ansible-test.sh sanity

units:
	@$(STAGE) units scripts/ansible-test.sh units

# Every integration test in one pool of two pytest-xdist workers: one runs a second-kernel test while
# the other drives labs on this kernel. --dist loadfile keeps a file's tests (and its module-scoped lab)
# on one worker; labs have unique names. --no-loadscope-reorder hands the files out in collection order,
# which tests/conftest.py sets: the long files first (xdist would otherwise start the files with the
# most tests first and leave the single-test second-kernel files for the end).
INTEGRATION_XDIST ?= -n 2 --dist loadfile --no-loadscope-reorder
integration:
	@$(STAGE) integration pytest -ra --durations=30 $(INTEGRATION_XDIST) $(PYTEST_ARGS) tests/integration tests/uml

# Parts of the pool above, each on its own.
# The older controllers requires_ansible admits (meta/runtime.yml), each in a venv of its own under .tmp.
ansible-versions:
	@PODNET_VERSIONS_ALL=1 $(STAGE) ansible-versions pytest -ra $(PYTEST_ARGS) tests/integration/versions

molecule:
	@PODNET_MOLECULE_ALL=1 $(STAGE) molecule pytest -ra $(PYTEST_ARGS) tests/integration/molecule

downstream:
	@$(STAGE) downstream pytest -ra $(PYTEST_ARGS) tests/integration/downstream

docs:
	@$(STAGE) docs pytest -ra $(PYTEST_ARGS) tests/integration/docs

# The real-kernel module suite once more, its modules run by the system Python with Debian's pyroute2 (0.7.2),
# as on a managed Debian 12 host (tests/kernel.py: PODNET_MODULE_PYTHON). The venv's run above used 0.9.
modules-distro:
	@$(STAGE) modules-distro env PODNET_MODULE_PYTHON=/usr/bin/python3 pytest -ra -n 2 $(PYTEST_ARGS) tests/integration/modules \
	  --ignore=tests/integration/modules/test_ipip.py

demo:
	scripts/demo.sh

bench:
	@$(STAGE) bench python benchmarks/run.py $(BENCH_ARGS)

bench-smoke:
	@$(STAGE) bench-smoke benchmarks/smoke.sh

clean:
	rm -rf tests/output .pytest_cache
