"""Replays of the fuzzer's findings and seeds through the harness's own check.

Every file in fuzz/crashes/ (but its README) once broke the parser's contract and must
now pass ``fuzz_parser.check``; so must every seed in fuzz/corpus/. The harness module
imports atheris only when fuzzing, so this runs wherever the tests do.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_parser", FUZZ / "fuzz_parser.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HARNESS = _harness()
CRASHES = sorted(p for p in (FUZZ / "crashes").iterdir() if not p.name.startswith("README"))
SEEDS = sorted((FUZZ / "corpus").iterdir())


def test_every_recorded_crash_is_fixed() -> None:
    assert (FUZZ / "crashes" / "README.md").is_file()
    for path in CRASHES:
        HARNESS.check(path.read_bytes())


@pytest.mark.parametrize("path", SEEDS, ids=[p.name for p in SEEDS])
def test_seed_passes_the_harness(path: Path) -> None:
    HARNESS.check(path.read_bytes())


def test_harness_flags_a_broken_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is live: a parser that leaks another exception is a crash."""
    import autograd_cli.expr.parser as parser

    def leaky(text: str) -> object:
        raise RecursionError("leaked")

    monkeypatch.setattr(parser, "parse", leaky)
    with pytest.raises(RecursionError):
        HARNESS.check(b"x")


def test_harness_does_not_need_atheris() -> None:
    code = (
        f"import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('h', {str(FUZZ / 'fuzz_parser.py')!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "module.check(b'2*x**3 + 1')\n"
        "assert 'atheris' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
