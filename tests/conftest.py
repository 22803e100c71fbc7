"""Shared fixtures: the installed ``gradcheck`` command, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from autograd_cli.execution.service_fingerprint import PREFIXES

ROOT = Path(__file__).resolve().parent.parent
GRADCHECK = Path(sys.executable).parent / "gradcheck"

# No test touches the user's own background service: commands run by hand in tests are
# cold one-shot runs, as in CI; the ``gradcheck`` fixture's are served by a private one.
os.environ["GRADCHECK_SERVICE"] = "0"
# Nor does a test's service or Python session compile every function in the background
# (a minute of both cores): tests/test_service.py and tests/test_api.py turn it on where
# they test it.
os.environ["GRADCHECK_WARMUP"] = "0"


@pytest.fixture(scope="session")
def warm_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One background service for the whole test session, in a private folder, as a user
    has it outside CI: the ``gradcheck`` fixture's commands are served by it (the same
    bytes and exit code as a cold run, which tests/test_service.py checks), so each
    framework loads once per session, not once per command. Stopped at the end."""
    runtime = tmp_path_factory.mktemp("service")
    runtime.chmod(0o700)
    env = {"GRADCHECK_SERVICE": "1", "XDG_RUNTIME_DIR": str(runtime)}
    yield env
    subprocess.run([str(GRADCHECK), "service", "stop"], capture_output=True, timeout=60,
                   env={**os.environ, **env}, check=False)


@pytest.fixture
def gradcheck(warm_service: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed command; stdout and stderr kept apart, no stdin. Served by the
    session's warm service unless ``env`` turns it off (GRADCHECK_SERVICE=0)."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        # A test that plants plugins or framework settings (part of the service's
        # fingerprint), or marks its processes to find them afterwards, runs cold: the
        # service would restart for it, or outlive the test by design.
        cold = any(name.startswith((*PREFIXES, "FAKE_")) for name in env or {})
        service = {"GRADCHECK_SERVICE": "0"} if cold else warm_service
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **service, **(env or {})}
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
