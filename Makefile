# `make serve`: set up everything and run the server on embedded defaults.
# `make test`:  set up everything and run the whole test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install serve test lint bench redis-server

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# llama-cpp-python builds from source; skipping the vision part halves the build.
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The tests start their own redis-server on a free loopback port; this installs it.
redis-server:
	@command -v redis-server >/dev/null || { apt-get update -q && apt-get install -y -q redis-server; }

serve: install
	$(VENV)/bin/deepcite serve

# Lint is part of the suite: the conventions (ruff, mypy --strict) hold on every landing.
test: install redis-server lint
	$(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check -q src tests bench
	$(VENV)/bin/mypy

bench: install
	$(PY) bench/speed_ttft.py
	$(PY) bench/research_quality.py
