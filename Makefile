# DinoAir installer: every target sets itself up, so each works as the first command on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup lock demo test reliability bench lint clean real-install

setup: $(STAMP)

# With venv + ensurepip: pip, as before. Without (stock Debian/Ubuntu python3): uv, found or
# fetched by the front door (`python3 -m frontdoor uv`, the locked wheel from your index).
$(STAMP): pyproject.toml
	@if $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
		$(PYTHON) -m venv $(VENV) && \
		$(PY) -m pip install --quiet --upgrade pip && \
		$(PY) -m pip install --quiet -e '.[test]'; \
	else \
		uv=$$($(PYTHON) -m frontdoor uv) && \
		$$uv venv --quiet --allow-existing --python $(PYTHON) $(VENV) && \
		$$uv pip install --quiet --python $(PY) -e '.[test]'; \
	fi
	touch $(STAMP)

# The front door's hash lock, from pyproject's dependencies (tests/test_frontdoor.py checks it).
lock:
	uv=$$($(PYTHON) -m frontdoor uv) && $$uv pip compile --quiet --universal \
		--python-version 3.10 --generate-hashes --index-url https://pypi.org/simple \
		pyproject.toml -o requirements/installer.lock

demo: $(STAMP)
	$(PY) -m fixtures.demo

test: $(STAMP)
	$(PY) -m pytest

reliability: $(STAMP)
	$(PY) -m pytest tests/reliability

# The real ComfyUI v0.3.64 with real dependencies (downloads GBs; not part of `make test`).
COMFYUI_BUNDLE ?= ../shared/fixtures/comfyui-v0.3.64.bundle
real-install: $(STAMP)
	COMFYUI_BUNDLE=$(COMFYUI_BUNDLE) $(PY) -m fixtures.real_install $(REAL_INSTALL_FLAGS)

bench: $(STAMP)
	$(PY) -m benchmarks

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

clean:
	rm -rf build $(VENV) *.egg-info
