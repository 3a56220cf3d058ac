# voxelomics: all set-up on a fresh machine is `make demo` then `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
WORKERS ?= 2

.PHONY: install demo test test-fast lint ibsi bench clean

# The deep extra needs torch: the pinned CPU wheel goes in first, so that pip never fetches a
# multi-GB CUDA build for the extra's range (torch>=2.4).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

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
	rm -rf $(VENV) demo_output .pytest_cache
