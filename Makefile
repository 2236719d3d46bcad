# The two commands: `make demo` and `make test`. Both install what is missing first.
VENV := .venv
PY := $(VENV)/bin/python
ANJU := $(VENV)/bin/anju

.PHONY: setup setup-cluster demo test test-slow test-cluster test-all bench lint clean

setup:
	@bash deploy/install.sh

# The engines of a multi-node deployment (only when asked: `make setup` stays fast).
setup-cluster:
	@bash deploy/install.sh --cluster

demo: setup
	@$(ANJU) demo

# Everything but the slow end-to-end tests (`make test-slow`) and the
# multi-node cluster's fault tests (`make test-cluster`).
test: setup
	@$(PY) -m pytest -m "not slow and not cluster" $(PYTEST_ARGS)

test-slow: setup
	@$(PY) -m pytest -m "slow and not cluster" $(PYTEST_ARGS)

test-cluster: setup-cluster
	@$(PY) -m pytest -m cluster $(PYTEST_ARGS)

test-all: setup-cluster
	@$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	@$(ANJU) bench ingest --messages 200000

clean:
	@$(ANJU) down --purge 2>/dev/null || true
	rm -rf .anju
