# Two commands on a fresh machine:
#   make study   set up (if needed), then run the embedded study end to end and publish its figures
#   make test    set up (if needed), then lint (ruff) and run the whole test suite
#   make test-fast   the same without the end-to-end runs marked slow (the inner loop)
# With no virtual environment active, one is created in .venv. The pinned CPU build of torch is
# installed before the package so that no open requirement pulls a multi-GB CUDA build.

VENV ?= .venv
ACTIVE_ENV := $(or $(VIRTUAL_ENV),$(CONDA_PREFIX))
ifeq ($(ACTIVE_ENV),)
  PYTHON := $(VENV)/bin/python
  STAMP := $(VENV)/.installed
else
  PYTHON := $(ACTIVE_ENV)/bin/python
  STAMP := $(ACTIVE_ENV)/.scale-or-reason-installed
endif
TORCH ?= torch==2.13.0
PARAMETERS ?= parameters/embedded.yaml
JOBS ?=

.PHONY: setup study test test-fast lint docs layers smoke lab tensorboard clean-runs

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet "$(TORCH)"
	$(PYTHON) -m pip install --quiet -e ".[dev]"
	@touch $@

study: setup
	$(PYTHON) -m scale_or_reason.cli study $(PARAMETERS) --publish-figures $(if $(JOBS),--jobs $(JOBS))
	$(if $(filter parameters/embedded.yaml,$(PARAMETERS)),$(PYTHON) -m scale_or_reason.cli readme $(PARAMETERS))

test: setup lint  # two workers (pytest-xdist), each test file on one of them
	$(PYTHON) -m pytest -n 2 --dist loadfile

test-fast: setup lint  # the inner loop: everything but the end-to-end runs marked slow
	$(PYTHON) -m pytest -n 2 --dist loadfile -m "not slow"

lint: setup
	$(PYTHON) -m ruff check src tests benchmarks notebooks
	$(PYTHON) -m ruff format --check src tests benchmarks notebooks

docs: setup  # docs/parameters.md from the parameter models (a test fails when it is stale)
	$(PYTHON) -m scale_or_reason.config.reference > docs/parameters.md

layers: setup  # the package's import graph by layer
	$(PYTHON) tests/import_graph.py

smoke: setup
	$(PYTHON) -m scale_or_reason.cli study parameters/smoke.yaml

tensorboard: setup  # the training curves of $(PARAMETERS)'s runs
	$(PYTHON) -m scale_or_reason.cli tensorboard $(PARAMETERS)

lab: setup  # tracked notebooks are saved without outputs (parameters/jupyter/)
	$(PYTHON) -m jupyter lab --config=parameters/jupyter/jupyter_server_config.py notebooks/

clean-runs:
	rm -rf runs/
