"""Backends from plugin packages: the ``gradcheck.backends`` entry-point group.

tests/plugin_example is a real package (setuptools, an entry point); it is installed
with pip into a folder of its own, offline, and the installed command is run with that
folder on PYTHONPATH, as a user's environment would hold it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "tests" / "plugin_example"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/plugin_example installed by pip into a folder, and beside it a package whose
    entry points lead nowhere: one to a missing module, one that takes a built-in name."""
    base = tmp_path_factory.mktemp("plugins")
    source = base / "plugin_example"
    shutil.copytree(EXAMPLE, source)  # pip's build leaves build/ and *.egg-info behind
    target = base / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, check=False, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    broken = target / "gradcheck_broken-0.0.1.dist-info"  # a minimal dist-info, by hand
    broken.mkdir()
    (broken / "METADATA").write_text("Metadata-Version: 2.1\nName: gradcheck-broken\n"
                                     "Version: 0.0.1\n")
    (broken / "entry_points.txt").write_text(
        "[gradcheck.backends]\n"
        "broken = gradcheck_nothere:Broken\n"
        "analytic = gradcheck_nothere:Analytic\n"
    )
    (broken / "RECORD").write_text("")
    return target


def env(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": f"{site}:{ROOT}"}


def test_backends_lists_plugins_with_their_package(gradcheck, site):
    result = gradcheck("backends", "--format", "json", env=env(site))
    assert result.returncode == 0, result.stderr
    rows = {row["backend"]: row for row in json.loads(result.stdout)}
    assert list(rows)[:5] == ["analytic", "torch", "tensorflow", "jax", "finite-diff"]
    assert rows["analytic"]["source"] == "built-in"
    square = rows["square"]
    assert square["installed"] is True and square["reason"] is None
    assert (square["source"], square["source_version"]) == ("gradcheck-square", "0.1.0")
    assert square["version"] == "0.1.0" and square["method"] == "numpy 2*x"
    broken = rows["broken"]
    assert broken["installed"] is False
    assert (broken["source"], broken["source_version"]) == ("gradcheck-broken", "0.0.1")
    assert "No module named 'gradcheck_nothere'" in broken["reason"]
    # a built-in name wins over a plugin's, and the listing says so
    assert rows["analytic"]["method"] == "sympy.diff + mpmath"
    assert "plugin 'analytic' from gradcheck-broken 0.0.1" in result.stderr
    assert "a built-in backend has that name" in result.stderr
    assert "Traceback" not in result.stderr


def test_backends_table_shows_source_and_reason(gradcheck, site):
    result = gradcheck("backends", env=env(site))
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "source" in lines["backend"]
    assert "built-in" in lines["torch"]
    assert "gradcheck-square 0.1.0" in lines["square"]
    assert "unavailable" in lines["broken"] and "gradcheck_nothere" in lines["broken"]
    assert "Traceback" not in result.stderr


def test_plugin_backend_runs(gradcheck, site):
    result = gradcheck("x**2", "--at", "3", "--backends", "analytic,square", "--format",
                       "json", env=env(site))
    assert result.returncode == 0, result.stderr
    rows = {row["backend"]: row for row in json.loads(result.stdout)["results"]}
    assert rows["square"]["status"] == "ok" and rows["square"]["derivative"] == 6.0


def test_broken_plugin_is_an_unavailable_row(gradcheck, site):
    result = gradcheck("x**2", "--at", "3", "--backends", "analytic,broken", "--format",
                       "json", env=env(site))
    assert result.returncode == 3, result.stderr
    rows = {row["backend"]: row for row in json.loads(result.stdout)["results"]}
    assert rows["analytic"]["status"] == "ok"
    assert rows["broken"]["status"] == "unavailable"
    assert "No module named 'gradcheck_nothere'" in rows["broken"]["reason"]
    assert "Traceback" not in result.stderr


def test_broken_plugin_is_skipped_by_default(gradcheck, site):
    result = gradcheck("x**2", "--at", "3", "--format", "json", env=env(site))
    assert result.returncode == 0, result.stderr
    names = [row["backend"] for row in json.loads(result.stdout)["results"]]
    assert "square" in names and "broken" not in names
    assert "note: broken is not installed, skipped" in result.stderr
    assert "Traceback" not in result.stderr


def test_environment_variable_plugins_stay(gradcheck):
    plugins = {"GRADCHECK_PLUGINS": "fake=tests.fake_backends:Square,"
                                    "torch=tests.fake_backends:Echo,gone=nowhere:Thing"}
    result = gradcheck("backends", "--format", "json", env=plugins)
    assert result.returncode == 0, result.stderr
    rows = {row["backend"]: row for row in json.loads(result.stdout)}
    assert rows["fake"]["source"] == "GRADCHECK_PLUGINS" and rows["fake"]["installed"]
    assert rows["torch"]["source"] == "built-in"  # never replaced by a plugin
    assert "plugin 'torch' from GRADCHECK_PLUGINS" in result.stderr
    assert rows["gone"]["installed"] is False and "nowhere" in rows["gone"]["reason"]


def test_the_docs_show_the_example_files_as_they_are():
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    blocks = {}
    for chunk in text.split("```")[1::2]:
        info, _, body = chunk.partition("\n")
        blocks.setdefault(info.strip(), body)
    assert blocks["toml"] == (EXAMPLE / "pyproject.toml").read_text(encoding="utf-8")
    assert blocks["python"] == (EXAMPLE / "gradcheck_square.py").read_text(encoding="utf-8")
