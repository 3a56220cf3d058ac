# voxelomics: all set-up on a fresh machine is `make demo` then `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
WORKERS ?= 2

.PHONY: install kernels demo test test-fast lint ibsi bench clean

KERNELS := src/voxelomics/features/_kernels.pyx

# The stamp also follows the compiled kernels' source: pip install -e rebuilds them.
# The deep extra needs torch: the pinned CPU wheel goes in first, so that pip never fetches a
# multi-GB CUDA build for the extra's range (torch>=2.4).
$(STAMP): pyproject.toml setup.py $(KERNELS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

# rebuild only the compiled texture kernels in place (a source checkout on another
# environment's interpreter, e.g. PYTHONPATH=src with a shared venv); needs Cython
kernels:
	$(if $(wildcard $(PY)),$(PY),$(PYTHON)) setup.py -q build_ext --inplace

demo: $(STAMP)
	$(PY) -m voxelomics demo --out demo_output
	@if [ -d ../shared/data ]; then \
		$(PY) -m voxelomics run examples/study/study.yaml --out demo_output/study; \
	else \
		echo "example study skipped: ../shared/data is not beside this checkout (see examples/study/README.md)"; \
	fi

test: $(STAMP)
	$(PY) -m pytest -n $(WORKERS) -q tests

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

ibsi: $(STAMP)
	$(PY) -m voxelomics ibsi

clean:
	rm -rf $(VENV) demo_output .pytest_cache build src/voxelomics/features/_kernels.c src/voxelomics/features/_kernels.*.so
