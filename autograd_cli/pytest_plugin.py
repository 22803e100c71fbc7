"""gradcheck in pytest: suite files collected as tests, and a helper for your own tests.

Registered as the ``pytest11`` entry point ``gradcheck``, so pytest loads it wherever
gradcheck is installed (``-p no:gradcheck`` turns it off). It collects every suite file
named ``gradcheck_*.toml`` in the paths pytest searches, and those the project
configuration lists (``suites = ["tests/derivatives.toml"]`` in ``[tool.gradcheck]``),
one item per case (per dtype),
named by the case's id: ``gradcheck_smoke.toml::sine [float32]``. So ``-k``, ``-x``,
``-m gradcheck`` and ``--junitxml`` work on cases as on any test. A case is run and
judged by the suite machinery (:func:`autograd_cli.suite.run.run_case`), exactly as
``gradcheck suite`` would; a failing case, and a case a backend could not run, fails
with the case's verdict and table. The cases share the process's warm workers
(:func:`autograd_cli.execution.warm.default_session`), so each framework loads once
per pytest run, shared with :func:`assert_derivatives_agree` and ``compare()``; they
compile nothing in the background unless ``GRADCHECK_WARMUP=1``.

Nothing heavy is imported when pytest starts: suite files are read when collected, and
frameworks and SymPy load only when a case runs, so unrelated test runs pay nothing.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from _pytest._code.code import ExceptionInfo, TerminalRepr, TracebackStyle

    from autograd_cli.report.model import Report
    from autograd_cli.suite.model import Case, CaseResult

#: The names of the suite files collected (``gradcheck.toml``, the project
#: configuration, does not match).
PREFIX, SUFFIX = "gradcheck_", ".toml"

__all__ = ["CaseFailed", "SuiteCase", "SuiteFile", "assert_derivatives_agree"]


def pytest_configure(config: pytest.Config) -> None:
    import os

    from autograd_cli.core.switches import setting
    from autograd_cli.execution import warm

    config.addinivalue_line(
        "markers", "gradcheck: a case of a gradcheck suite file (gradcheck_*.toml)"
    )
    # a test run asks for every op it needs: compiling others meanwhile only takes cores
    warm.default_warm_up = bool(setting(os.environ, warm.VARIABLE))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SuiteFile | None:
    if file_path.suffix != SUFFIX:
        return None
    if file_path.name.startswith(PREFIX) or file_path.resolve() in _listed(file_path.parent):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


@functools.lru_cache(maxsize=64)
def _listed(folder: Path) -> frozenset[Path]:
    """The suite files named by ``suites = [...]`` in the project configuration in
    force for ``folder`` (``[tool.gradcheck]`` or gradcheck.toml); a configuration that
    cannot be read lists none here (its error shows when a suite file loads it)."""
    from autograd_cli.suite.config import ConfigError, project_config

    try:
        found = project_config(start=folder)
    except ConfigError:
        return frozenset()
    return frozenset(path.resolve() for path in found.suites)


class SuiteFile(pytest.File):
    """A suite file: one :class:`SuiteCase` per case (per dtype). A file that is not a
    valid suite is a collection error carrying the message ``gradcheck suite`` prints."""

    def collect(self) -> Iterator[SuiteCase]:
        from autograd_cli.suite.config import project_config
        from autograd_cli.suite.load import load_suite

        # The project configuration nearest the suite file sits under its [defaults],
        # as the working directory's does for ``gradcheck suite``.
        found = project_config(start=self.path.parent)
        suite = load_suite(self.path, found.settings)
        for case in suite.cases:
            yield SuiteCase.from_parent(self, name=case.id, case=case)

    def repr_failure(  # type: ignore[override]
        self, excinfo: ExceptionInfo[BaseException]
    ) -> str | TerminalRepr:
        from autograd_cli.suite.config import ConfigError

        if isinstance(excinfo.value, ConfigError):
            return excinfo.value.render()
        return super().repr_failure(excinfo)


class CaseFailed(Exception):
    """A case that failed, or that a backend could not run; carries its result."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.message)
        self.result = result


class SuiteCase(pytest.Item):
    """One case of a suite file at one dtype, run through the process's warm workers."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.add_marker("gradcheck")

    def runtest(self) -> None:
        from autograd_cli.execution.warm import default_session
        from autograd_cli.suite.model import ERROR, FAILED, PASSED, SKIPPED
        from autograd_cli.suite.run import run_case

        with default_session().pool() as pool:
            result = run_case(self.case, pool=pool)
        if self.case.notes:
            notes = "".join(f"note: {note}\n" for note in dict.fromkeys(self.case.notes))
            self.add_report_section("call", "gradcheck notes", notes)
        if result.outcome == PASSED:
            if result.report is not None and result.report.warnings:
                self.add_report_section("call", "gradcheck warnings",
                                        "\n".join(result.report.warnings) + "\n")
            return
        if result.outcome == SKIPPED:
            pytest.skip(result.message or "not run")
        assert result.outcome in (FAILED, ERROR), result.outcome
        raise CaseFailed(result)

    def repr_failure(
        self, excinfo: ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, CaseFailed):
            result = excinfo.value.result
            head = f"{self.case.nodeid}: {result.outcome.upper()}"
            if result.message:
                head += f": {result.message}"
            return f"{head}\n{result.details()}".rstrip("\n")
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"gradcheck case {self.case.nodeid}"


def assert_derivatives_agree(expression: str, at: Any, **options: Any) -> Report:
    """Compare as :func:`autograd_cli.compare` does (same arguments: ``backends``,
    ``dtype``, ``wrt``, ``rtol``, ``max_ulps``, ``strict``, ...); raise AssertionError
    with the report's table and verdict when ``report.ok`` is False, else return the
    report. Bad input raises ValueError, as ``compare`` does."""
    from autograd_cli import compare
    from autograd_cli.report.render import render

    report = compare(expression, at, **options)
    if not report.ok:
        raise AssertionError(f"{expression}: {report.verdict()}\n{render(report, 'table')}")
    return report
