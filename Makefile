# BirdCLEF 2025 notebook suite. `make demo` runs everything on the embedded demo competition;
# `make test` runs the tests. Both install what they need first (make venv).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNEL := birdkit
YEAR ?= 2025
DESIGN ?=
# the demo competition's folder: data/demo (2025, default design), data/demo-2026, data/demo-2024-field-b, ...
DEMO_DIR ?= data/demo$(if $(filter-out 2025,$(YEAR)),-$(YEAR))$(if $(DESIGN),-$(DESIGN))
PARAMS ?= params/demo.yaml
DATA_DIR ?=
SOLUTION ?=
NAME ?=
SET ?=
RUN_ARGS := --params $(PARAMS) $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(SOLUTION),--solution $(SOLUTION)) $(if $(NAME),--name $(NAME)) $(foreach s,$(SET),--set $(s))

.PHONY: venv sync check lint demo demo-data run smoke test test-fast bench push push-status pull-output push-wheels clean baseline \
	kaggle-venv test-kaggle-env

venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	@echo "== creating $(VENV) and installing pinned requirements"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m ipykernel install --prefix $(VENV) --name $(KERNEL) --display-name "Python (birdkit)" > /dev/null
	$(PY) -m pip check
	@touch $(STAMP)
	@echo "== venv ready: $(VENV) (kernel '$(KERNEL)' registered inside it)"

sync: venv  ## regenerate notebooks/*.ipynb from src_py/*.py
	$(PY) -m birdkit_tools.nbsync sync

check: venv  ## fail if a src_py/notebooks pair differs or a notebook carries outputs
	$(PY) -m birdkit_tools.nbsync check

demo-data: venv  ## make demo-data [YEAR=2024|2025|2026] [DESIGN=field|classic|field-b]
	$(PY) -m birdkit_tools.demo_data --out $(DEMO_DIR) --year $(YEAR) $(if $(DESIGN),--design $(DESIGN))

demo: venv demo-data  ## the whole pipeline on the demo competition [YEAR=2024|2025|2026] [DESIGN=...] [PARAMS=...]
	@start=$$(date +%s); \
	$(PY) -m birdkit_tools.runner --params $(PARAMS) --data-dir $(DEMO_DIR)/birdclef-$(YEAR) \
	  --solution $(DEMO_DIR)/solution.csv $(if $(NAME),--name $(NAME)) $(foreach s,$(SET),--set $(s)) && \
	echo "make demo: the notebooks took $$(( $$(date +%s) - start )) s (the venv and the demo data were made before)"

baseline: venv $(if $(DATA_DIR),,demo-data)  ## logistic regression on log-mel statistics [DATA_DIR=... SOLUTION=...]
	$(PY) -m birdkit_tools.baseline --data-dir $(or $(DATA_DIR),$(DEMO_DIR)/birdclef-$(YEAR)) \
	  --solution $(or $(SOLUTION),$(DEMO_DIR)/solution.csv) --out runs/baseline

run: venv  ## make run PARAMS=params/x.yaml DATA_DIR=/path/to/birdclef-2025 [SOLUTION=...] [NAME=...]
	$(PY) -m birdkit_tools.runner $(RUN_ARGS)

test: venv  ## the whole test suite (CI); the Kaggle-image tests run in make test-kaggle-env
	$(PY) -m pytest -q -m "not kaggle_env" tests

test-fast: venv  ## the edit loop: everything but the slow tests (notebooks, push, export, pools, training)
	$(PY) -m pytest -q -m "not slow and not kaggle_env" tests

lint: venv  ## ruff: the linter's check (CI runs it)
	$(PY) -m ruff check src_py tests

clean:
	rm -rf runs build staging

# ---- Kaggle: make push [DRY_RUN=1] [KERNELS=train,infer|all] [STAGING=dir] [KAGGLE_PARAMS=params/kaggle-2026.yaml]
# (birdkit_tools.kaggle_push; the params file's `competition` becomes the kernels' competition_sources) ----
# Credentials stay with the kaggle CLI (KAGGLE_API_TOKEN, ~/.kaggle/kaggle.json, KAGGLE_USERNAME/KAGGLE_KEY);
# nothing here reads or prints them.
STAGING ?= staging
DRY_RUN ?=
KERNELS ?=
PULL_DIR ?= runs/kaggle
PUSH_ARGS = --staging $(STAGING) $(if $(filter 1 yes true,$(DRY_RUN)),--dry-run) $(if $(KERNELS),--kernels $(KERNELS)) \
  $(if $(KAGGLE_PARAMS),--params $(KAGGLE_PARAMS))

push: venv  ## stage + validate + push code dataset and kernels (DRY_RUN=1: print the commands, no network)
	$(PY) -m birdkit_tools.kaggle_push push $(PUSH_ARGS)

push-status: venv  ## kaggle kernels status of the pushed kernels
	$(PY) -m birdkit_tools.kaggle_push status $(PUSH_ARGS)

pull-output: venv  ## kaggle kernels output of each kernel into $(PULL_DIR)/<slug>/
	$(PY) -m birdkit_tools.kaggle_push pull-output $(PUSH_ARGS) --out $(PULL_DIR)

push-wheels: venv  ## download the pinned openvino + onnxruntime wheels for Python 3.11-3.13, push the wheels dataset
	$(PY) -m birdkit_tools.kaggle_push push-wheels $(PUSH_ARGS)

bench: venv  ## CPU inference benchmark: ms per 5-s window per model and backend (runs/bench/bench.md)
	$(PY) -m birdkit_tools.bench --out runs/bench

# ---- Kaggle's image, pinned (requirements-kaggle.txt): make test-kaggle-env ----
# .venv-kaggle is built once (stamp file; rebuilt from scratch when requirements-kaggle.txt changes) with
# Python 3.12 like Kaggle's image when this machine has it; the wheels the offline-install tests use are
# downloaded at build time, so the tests themselves use no network.
KAGGLE_VENV := .venv-kaggle
KAGGLE_PY := $(KAGGLE_VENV)/bin/python
KAGGLE_STAMP := $(KAGGLE_VENV)/.installed
KAGGLE_WHEELS := $(KAGGLE_VENV)/test-wheels
KAGGLE_BASE_PYTHON ?= $(firstword $(wildcard /root/.pyenv/versions/3.12*/bin/python3.12) \
                                  $(shell command -v python3.12 2>/dev/null))

# the fast tier, then the notebook smoke run and the staged kernels (slow) with the Kaggle-image tests
KAGGLE_SLOW_TESTS := tests/test_notebooks.py::test_smoke_run_writes_everything \
  tests/test_notebooks.py::test_smoke_submission_format tests/test_notebooks.py::test_failing_cell_names_notebook_and_cell \
  tests/test_kaggle_layout.py

# second leg: the same environment with numpy lifted to the development pin (2.4.x), which Kaggle's own build
# may install over the base image's 2.0.2; a --target folder put first on PYTHONPATH, not a second venv
KAGGLE_NUMPY_LEG := $(KAGGLE_VENV)/numpy-leg
KAGGLE_NUMPY_PIN := $(shell grep -i '^numpy==' requirements.txt)

kaggle-venv: $(KAGGLE_STAMP) $(KAGGLE_WHEELS)/.downloaded $(KAGGLE_NUMPY_LEG)/.installed

test-kaggle-env: kaggle-venv  ## the tests, the smoke run and the staged kernels on Kaggle's image versions (.venv-kaggle)
	@start=$$(date +%s); set -e; \
	for leg in "" "$(abspath $(KAGGLE_NUMPY_LEG))"; do \
	  echo "== Kaggle image, numpy $$(PYTHONPATH=$$leg $(KAGGLE_PY) -c 'import numpy; print(numpy.__version__)')"; \
	  PYTHONPATH=$$leg $(KAGGLE_PY) -m pytest -q -m "not slow and not kaggle_env" tests; \
	  PYTHONPATH=$$leg BIRDKIT_TEST_WHEELS=$(KAGGLE_WHEELS) $(KAGGLE_PY) -m pytest -q $(KAGGLE_SLOW_TESTS); \
	done; \
	echo "make test-kaggle-env: both legs took $$(( $$(date +%s) - start )) s in $(KAGGLE_VENV) ($$($(KAGGLE_PY) --version))"

$(KAGGLE_NUMPY_LEG)/.installed: $(KAGGLE_STAMP) requirements.txt
	rm -rf $(KAGGLE_NUMPY_LEG)
	$(KAGGLE_PY) -m pip install -q --no-deps --target $(KAGGLE_NUMPY_LEG) $(KAGGLE_NUMPY_PIN)
	@touch $@

$(KAGGLE_WHEELS)/.downloaded: $(KAGGLE_STAMP) requirements.txt kernel-metadata.json
	rm -rf $(KAGGLE_WHEELS)
	$(KAGGLE_PY) -m birdkit_tools.kaggle_push download-wheels --packages openvino --out $(KAGGLE_WHEELS) \
	  --python 3.11 --python 3.12 --python 3.13
	@touch $@

$(KAGGLE_STAMP): requirements-kaggle.txt
	@start=$$(date +%s); base="$(KAGGLE_BASE_PYTHON)"; \
	if [ -z "$$base" ]; then base=$(PYTHON); \
	  echo "NOTE: no python3.12 here: $(KAGGLE_VENV) uses $$($$base --version 2>&1) (Kaggle's image runs 3.12)"; fi; \
	echo "== building $(KAGGLE_VENV) with $$($$base --version 2>&1) from requirements-kaggle.txt"; \
	rm -rf $(KAGGLE_VENV) && $$base -m venv $(KAGGLE_VENV) && \
	$(KAGGLE_PY) -m pip install -q -r requirements-kaggle.txt && \
	$(KAGGLE_PY) -m pip install -q --no-deps -e . && \
	$(KAGGLE_PY) -m ipykernel install --prefix $(KAGGLE_VENV) --name $(KERNEL) \
	  --display-name "Python (birdkit, Kaggle image)" > /dev/null && \
	$(KAGGLE_PY) -m pip check && touch $(KAGGLE_STAMP) && \
	echo "== $(KAGGLE_VENV) built in $$(( $$(date +%s) - start )) s"
