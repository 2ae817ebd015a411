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
RUN_ARGS := --params $(PARAMS) $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(SOLUTION),--solution $(SOLUTION)) $(if $(NAME),--name $(NAME))

.PHONY: venv sync check lint demo demo-data baseline run smoke test test-fast bench push push-status pull-output push-wheels clean

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

demo: venv demo-data  ## the whole pipeline on the demo competition [YEAR=2024|2025|2026] [DESIGN=...]
	@start=$$(date +%s); \
	$(PY) -m birdkit_tools.runner --params params/demo.yaml --data-dir $(DEMO_DIR)/birdclef-$(YEAR) \
	  --solution $(DEMO_DIR)/solution.csv $(if $(NAME),--name $(NAME)) && \
	echo "make demo: the notebooks took $$(( $$(date +%s) - start )) s (the venv and the demo data were made before)"

baseline: venv $(if $(DATA_DIR),,demo-data)  ## logistic regression on log-mel statistics [DATA_DIR=... SOLUTION=...]
	$(PY) -m birdkit_tools.baseline --data-dir $(or $(DATA_DIR),$(DEMO_DIR)/birdclef-$(YEAR)) \
	  --solution $(or $(SOLUTION),$(DEMO_DIR)/solution.csv) --out runs/baseline

run: venv  ## make run PARAMS=params/x.yaml DATA_DIR=/path/to/birdclef-2025 [SOLUTION=...] [NAME=...]
	$(PY) -m birdkit_tools.runner $(RUN_ARGS)

test: venv  ## the whole test suite (CI)
	$(PY) -m pytest -q tests

test-fast: venv  ## the edit loop: everything but the slow tests (notebooks, push, export, pools, training)
	$(PY) -m pytest -q -m "not slow" tests

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

push-wheels: venv  ## download the pinned wheels (openvino) for Kaggle's Python and push the wheels dataset
	$(PY) -m birdkit_tools.kaggle_push push-wheels $(PUSH_ARGS)

bench: venv  ## CPU inference benchmark: ms per 5-s window per model and backend (runs/bench/bench.md)
	$(PY) -m birdkit_tools.bench --out runs/bench
