"""The lock: every package ``make`` installs, pinned, and the one this venv runs on.

``make test-latest`` sets GRADCHECK_UNLOCKED=1: it runs the suite on the newest
releases on purpose, so only the check that this venv *is* the lock steps aside there.
"""

from __future__ import annotations

import os
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in LOCK.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        pins[canonicalize_name(match[1])] = Version(match[2])
    return pins


def frameworks() -> list[Requirement]:
    makefile = (ROOT / "Makefile").read_text()
    line = re.search(r"^FRAMEWORKS := (.*)$", makefile, re.MULTILINE)
    assert line, "the Makefile names the frameworks it locks"
    return [Requirement(text) for text in line[1].split()]


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    texts = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    environment = default_environment()
    wanted = [Requirement(text) for text in texts]
    return [r for r in wanted if r.marker is None or r.marker.evaluate(environment)]


def test_every_line_is_an_exact_pin_of_a_distinct_package() -> None:
    lines = [ln for ln in LOCK.read_text().splitlines() if ln and not ln.startswith("#")]
    assert len(locked()) == len(lines) > 20


@pytest.mark.parametrize("requirement", [*project_requirements(), *frameworks()], ids=str)
def test_what_the_project_asks_for_is_locked_at_a_version_that_satisfies_it(
    requirement: Requirement,
) -> None:
    version = locked().get(canonicalize_name(requirement.name))
    assert version is not None, f"{requirement.name} is not in {LOCK.name}"
    assert requirement.specifier.contains(version, prereleases=True), (requirement, version)


def test_torch_is_the_cpu_build_this_machine_installs_from_its_wheel() -> None:
    torch = locked()[canonicalize_name("torch")]
    assert torch.public == "2.13.0"


@pytest.mark.skipif(os.environ.get("GRADCHECK_UNLOCKED") == "1",
                    reason="make test-latest runs on the newest releases on purpose")
def test_this_venv_runs_exactly_the_locked_versions() -> None:
    installed = {canonicalize_name(d.metadata["Name"]): Version(d.version)
                 for d in metadata.distributions()}
    drift = {name: (str(want), str(installed.get(name)))
             for name, want in locked().items() if installed.get(name) != want}
    assert not drift, f"installed versions differ from {LOCK.name} (want, got): {drift}"
