"""Shared fixtures: the installed ``gradcheck`` command, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GRADCHECK = Path(sys.executable).parent / "gradcheck"

# Every command a test runs is a cold one-shot run, as in CI: no background service
# (tests/test_service.py turns it on, in a private folder, for its own runs).
os.environ["GRADCHECK_SERVICE"] = "0"


@pytest.fixture
def gradcheck() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed command; stdout and stderr kept apart, no stdin."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        full_env.pop("NO_COLOR", None)
        return subprocess.run(
            [str(GRADCHECK), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env=full_env,
            timeout=timeout,
            cwd=cwd,
        )

    return run
