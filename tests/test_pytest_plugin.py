"""The pytest plugin: suite files ``gradcheck_*.toml`` collected as one item per case,
and ``assert_derivatives_agree`` for users' own tests.

The pytest runs are subprocesses (``runpytest_subprocess``): an in-process run would
drop the modules it imported (NumPy and SymPy included) when it ends. Each names the
plugin with ``-p`` and turns entry-point autoloading off, so the run is the same
whether or not pytest finds the installed entry point; one run checks the entry point
on its own.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from autograd_cli.pytest_plugin import assert_derivatives_agree

pytest_plugins = ["pytester"]

DEMO = """\
name = "demo"

[[case]]
name = "square"
expression = "x**2"
at = 3
backends = ["analytic", "torch"]

[[case]]
name = "square, wrong expect"
expression = "x**2"
at = 3
backends = ["analytic"]
expect = 7
"""

PLUGIN = ("-p", "autograd_cli.pytest_plugin")


@pytest.fixture
def demo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makefile(".toml", gradcheck_demo=DEMO)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return pytester


def test_one_item_per_case_failure_shows_verdict_and_junit(demo: pytest.Pytester) -> None:
    result = demo.runpytest_subprocess(*PLUGIN, "-rA", "--junitxml", "junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "PASSED gradcheck_demo.toml::square",
        "FAILED gradcheck_demo.toml::square, wrong expect*",
    ])
    text = result.stdout.str()
    assert "demo::square, wrong expect: FAILED: expect: df/dx at x = 3.0 should be 7.0" in text
    assert "analytic" in text and "ULP err" in text  # the case's table
    assert "Traceback" not in text
    root = ET.parse(demo.path / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["square", "square, wrong expect"]
    failure = cases[1].find("failure")
    assert failure is not None and "should be 7.0" in (failure.text or "")


def test_k_selects_a_case(demo: pytest.Pytester) -> None:
    result = demo.runpytest_subprocess(*PLUGIN, "-k", "not wrong", "-m", "gradcheck")
    result.assert_outcomes(passed=1, deselected=1)


@pytest.mark.parametrize(("setting", "expected"), [(None, False), ("1", True)])
def test_a_test_run_compiles_nothing_in_the_background_unless_asked(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, setting, expected
) -> None:
    """Outside CI a notebook's workers compile between calls (execution/warmup.py); under
    pytest the plugin turns that off for the shared session, GRADCHECK_WARMUP=1 back on."""
    pytester.makepyfile(test_warm_up=f"""
        from autograd_cli.execution.warm import default_session

        def test_it():
            assert default_session()._warm_up is {expected}
    """)
    for name in ("CI", "GRADCHECK_WARMUP", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    if setting is not None:
        monkeypatch.setenv("GRADCHECK_WARMUP", setting)
    result = pytester.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=1)
    without = pytester.runpytest_subprocess()  # no plugin: as in a notebook
    without.assert_outcomes(passed=int(expected), failed=int(not expected))


def test_entry_point_autoloads_and_bad_file_is_a_collection_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".toml", gradcheck_demo=DEMO)
    pytester.makefile(".toml", gradcheck_bad='[[case]]\nname = "x"\nexpresion = "x"\nat = 1\n')
    pytester.makefile(".toml", other="not = 'a suite'")
    for name in ("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_ADDOPTS", "PYTHONPATH"):
        monkeypatch.delenv(name, raising=False)
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    result.stdout.fnmatch_lines([
        "gradcheck_demo.toml::square",
        "gradcheck_demo.toml::square, wrong expect",
        "*unknown case option 'expresion'*",
        "hint: did you mean 'expression'?*",
    ])
    result.assert_outcomes(errors=1)


def test_plugin_import_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, autograd_cli.pytest_plugin; "
            "print(sorted(m for m in ('numpy', 'sympy', 'torch', 'rich') if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.strip() == "[]"


def test_assert_derivatives_agree() -> None:
    report = assert_derivatives_agree("x**2", at=3, backends="analytic,torch")
    assert report.ok
    with pytest.raises(AssertionError, match="inaccurate") as caught:
        assert_derivatives_agree("tanh(x)", at=3, backends="analytic,torch", max_ulps=1)
    assert "FAIL" in str(caught.value) and "torch" in str(caught.value)


def test_suites_listed_in_the_project_configuration_are_collected(demo: pytest.Pytester) -> None:
    (demo.path / "checks").mkdir()
    (demo.path / "checks" / "derivatives.toml").write_text(DEMO.replace("demo", "listed"))
    (demo.path / "checks" / "unlisted.toml").write_text(DEMO)
    demo.makepyprojecttoml('[tool.gradcheck]\nsuites = ["checks/derivatives.toml"]\n')
    result = demo.runpytest_subprocess(*PLUGIN, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["checks/derivatives.toml::square", "gradcheck_demo.toml::square"])
    assert "unlisted" not in result.stdout.str()
    result.assert_outcomes()


def test_a_bad_suites_key_is_refused(tmp_path) -> None:
    from autograd_cli.suite.config import ConfigError, load_config

    (tmp_path / "gradcheck.toml").write_text("suites = 3\n")
    with pytest.raises(ConfigError, match="suites: expected a list of strings"):
        load_config(tmp_path / "gradcheck.toml")
