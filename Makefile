# DinoAir installer: every target sets itself up, so each works as the first command on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test reliability bench lint clean real-install

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m fixtures.demo

test: $(STAMP)
	$(PY) -m pytest

reliability: $(STAMP)
	$(PY) -m pytest tests/reliability

# The real ComfyUI v0.3.64 with real dependencies (downloads GBs; not part of `make test`).
COMFYUI_BUNDLE ?= ../shared/fixtures/comfyui-v0.3.64.bundle
real-install: $(STAMP)
	COMFYUI_BUNDLE=$(COMFYUI_BUNDLE) $(PY) -m fixtures.real_install

bench: $(STAMP)
	$(PY) -m benchmarks

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

clean:
	rm -rf build $(VENV) *.egg-info
