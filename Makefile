# The two commands: `make demo` and `make test`. Both install what is missing first.
VENV := .venv
PY := $(VENV)/bin/python
ANJU := $(VENV)/bin/anju

.PHONY: setup setup-cluster demo test test-slow test-all bench lint clean

setup:
	@bash deploy/install.sh

# The engines of a multi-node deployment (only when asked: `make setup` stays fast).
setup-cluster:
	@bash deploy/install.sh --cluster

demo: setup
	@$(ANJU) demo

# Everything but the slow end-to-end tests (run those with `make test-slow`).
test: setup
	@$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: setup
	@$(PY) -m pytest -m slow $(PYTEST_ARGS)

test-all: setup
	@$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	@$(ANJU) bench ingest --messages 200000

clean:
	@$(ANJU) down --purge 2>/dev/null || true
	rm -rf .anju
