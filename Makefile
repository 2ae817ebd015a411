# BirdCLEF 2025 notebook suite. `make demo` runs everything on the embedded demo competition;
# `make test` runs the tests. Both install what they need first (make venv).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNEL := birdkit
DEMO_DIR := data/demo
PARAMS ?= params/demo.yaml
DATA_DIR ?=
SOLUTION ?=
NAME ?=
RUN_ARGS := --params $(PARAMS) $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(SOLUTION),--solution $(SOLUTION)) $(if $(NAME),--name $(NAME))

.PHONY: venv sync check demo demo-data run smoke test bench push push-status pull-output clean

venv: $(STAMP)
$(STAMP): requirements.txt
	@echo "== creating $(VENV) and installing pinned requirements"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -c "import site, pathlib; pathlib.Path(site.getsitepackages()[0], 'birdkit.pth').write_text(str(pathlib.Path('src_py').resolve()) + '\n')"
	$(PY) -m ipykernel install --prefix $(VENV) --name $(KERNEL) --display-name "Python (birdkit)" > /dev/null
	$(PY) -m pip check
	@touch $(STAMP)
	@echo "== venv ready: $(VENV) (kernel '$(KERNEL)' registered inside it)"

sync: venv  ## regenerate notebooks/*.ipynb from src_py/*.py
	$(PY) -m birdkit.nbsync sync

check: venv  ## fail if a src_py/notebooks pair differs or a notebook carries outputs
	$(PY) -m birdkit.nbsync check

demo-data: venv
	$(PY) -m birdkit.demo_data --out $(DEMO_DIR)

demo: venv demo-data  ## the whole pipeline on the demo competition
	@start=$$(date +%s); \
	$(PY) -m birdkit.runner --params params/demo.yaml --data-dir $(DEMO_DIR)/birdclef-2025 \
	  --solution $(DEMO_DIR)/solution.csv $(if $(NAME),--name $(NAME)) && \
	echo "make demo finished in $$(( $$(date +%s) - start )) s (install and data included)"

run: venv  ## make run PARAMS=params/x.yaml DATA_DIR=/path/to/birdclef-2025 [SOLUTION=...] [NAME=...]
	$(PY) -m birdkit.runner $(RUN_ARGS)

test: venv  ## the test suite
	$(PY) -m pytest -q -p no:cacheprovider tests

clean:
	rm -rf runs build staging
