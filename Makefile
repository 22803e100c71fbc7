# gradcheck: `make run` and `make test` set everything up on a fresh machine, installing
# exactly the versions in requirements.lock (`make lock` refreshes it on purpose).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
DEPS_STAMP := $(VENV)/.deps-stamp
STAMP := $(VENV)/.installed-stamp
# What the lock is made from, besides pyproject.toml's dependencies and [dev] extra.
# torch stays pinned: 2.13.0 installs the CPU build from this machine's wheel, while a
# newer or unpinned torch pulls a CUDA build of several GB. tensorflow-cpu avoids the
# same for TF.
FRAMEWORKS := torch==2.13.0 tensorflow-cpu jax
EXAMPLE := "2*x**3+4*x**2+5*x+6" --at 0.5
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint unit smoke dist-check fuzz bench lock test-latest clean

# The locked packages, in a venv made afresh whenever the lock changes, so nothing
# from an earlier install lingers; then a check that pip sees exactly the lock.
$(DEPS_STAMP): $(LOCK)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps -r $(LOCK)
	diff -u --label $(LOCK) --label 'pip freeze' <(grep -v '^#' $(LOCK)) \
	    <($(BIN)/python -m pip freeze --all --exclude-editable) \
	    || { echo "make: $(VENV) does not match $(LOCK)" >&2; exit 1; }
	touch $(DEPS_STAMP)

# gradcheck itself, editable, built with the locked setuptools and nothing new.
$(STAMP): $(DEPS_STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gradcheck $(EXAMPLE)

test: lint unit

lint: $(STAMP)
	$(BIN)/ruff check autograd_cli tests benchmarks
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

smoke: $(STAMP)
	$(BIN)/gradcheck suite configs/smoke.toml configs/ml-functions.toml --junit gradcheck.xml

# The wheel, built and installed into a fresh venv outside the repository, runs.
dist-check: $(STAMP)
	bash .ci/dist-check

# Refresh the lock on purpose: resolve the frameworks and pyproject.toml's dependencies
# (with [dev]) to their newest releases in a throwaway venv and freeze what it holds.
lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip setuptools
	build/lock-venv/bin/python -m pip install --quiet $(FRAMEWORKS) -e '.[dev]'
	{ echo "# Every package make installs, transitive ones included; made by 'make lock'"; \
	  echo "# from pyproject.toml ([dev]) and: $(FRAMEWORKS)"; \
	  echo "# on $$(build/lock-venv/bin/python -c 'import platform, sys; print(f"CPython {sys.version.split()[0]}, {platform.system()} {platform.machine()}")'), $$(date -u +%F)."; \
	  build/lock-venv/bin/python -m pip freeze --all --exclude-editable; } > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf build/lock-venv

# The whole test suite against the newest releases, without the lock: how an upstream
# change shows up as a deliberate upgrade. Not part of CI.
LATEST := build/venv-latest
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip setuptools
	$(LATEST)/bin/python -m pip install --quiet --upgrade $(FRAMEWORKS) -e '.[dev]'
	$(LATEST)/bin/python -m pip freeze --all --exclude-editable | diff -u --label $(LOCK) \
	    --label latest <(grep -v '^#' $(LOCK)) - || true
	GRADCHECK_UNLOCKED=1 $(LATEST)/bin/pytest

# Coverage-guided fuzzing of the parser for a bounded time; crashing inputs land in
# fuzz/crashes/, which tests/test_fuzz_regressions.py replays.
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet atheris
	mkdir -p build/fuzz-corpus
	$(BIN)/python fuzz/fuzz_parser.py -max_total_time=$(FUZZ_SECONDS) -timeout=5 -artifact_prefix=fuzz/crashes/ build/fuzz-corpus fuzz/corpus

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/service.py
	$(BIN)/python benchmarks/sweep_reference.py
	$(BIN)/python benchmarks/hunt.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
