# gradcheck: `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# torch 2.13.0 installs the CPU build from this machine's wheel; a newer or unpinned
# torch would pull a CUDA build of several GB. tensorflow-cpu avoids the same for TF.
FRAMEWORKS := torch==2.13.0 tensorflow-cpu==2.21.0 jax==0.10.2
EXAMPLE := "2*x**3+4*x**2+5*x+6" --at 0.5
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint unit smoke fuzz bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(FRAMEWORKS)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
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
	$(BIN)/gradcheck suite configs/smoke.toml --junit gradcheck.xml

# Coverage-guided fuzzing of the parser for a bounded time; crashing inputs land in
# fuzz/crashes/, which tests/test_fuzz_regressions.py replays.
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet atheris
	mkdir -p build/fuzz-corpus
	$(BIN)/python fuzz/fuzz_parser.py -max_total_time=$(FUZZ_SECONDS) -timeout=5 -artifact_prefix=fuzz/crashes/ build/fuzz-corpus fuzz/corpus

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
