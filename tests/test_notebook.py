"""Notebooks: ``sweep()`` from Python (report, arrays, figure), reports as HTML
(``_repr_html_``: the text table's columns and cells, verdicts coloured by tier, every
text escaped), and the package's ``py.typed``."""

from __future__ import annotations

import dataclasses
import importlib.resources
import io
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest

import autograd_cli
from autograd_cli import compare, sweep
from autograd_cli.report.render import render_markdown, render_sweep_markdown

pytest.importorskip("matplotlib")
torch = pytest.importorskip("torch")


class Parsed(HTMLParser):
    """The tags, table rows (cells as text) and images of an HTML fragment."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.rows: list[list[str]] = []
        self.styles: list[list[str]] = []
        self.images: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
            self.styles.append([])
        elif tag in ("td", "th"):
            self._cell = []
            self.styles[-1].append(dict(attrs).get("style") or "")
        elif tag == "img":
            self.images.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def markdown_table(text: str) -> list[list[str]]:
    """The header and rows of render's markdown table (its separator line left out)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| "):
            cells = line[2:-2].replace("\\|", "\0").split(" | ")
            rows.append([cell.replace("\0", "|") for cell in cells])
    return rows


@pytest.fixture(scope="module")
def swept() -> Any:
    return sweep("tanh(x)", range=(-5, 5), num=1001, backends="analytic,torch")


def test_sweep_returns_the_report_arrays_and_figure(swept: Any) -> None:
    from matplotlib.figure import Figure

    report = swept.report
    assert [row.backend for row in report.rows] == ["analytic", "torch"]
    assert report.points == 1001 and swept.ok == report.ok
    arrays = swept.arrays
    for key in ("x", "f", "exact", "noise_floor", "labels"):
        assert arrays[key].shape == (1001,)
    assert arrays["x"][0] == -5.0 and arrays["x"][-1] == 5.0
    assert np.allclose(arrays["f"], np.tanh(arrays["x"]))
    assert set(arrays["backends"]) == {"analytic", "torch"}
    for name in ("analytic", "torch"):
        columns = arrays["backends"][name]
        assert set(columns) == {"derivative", "abs_error", "ulp_error", "tier"}
        assert all(column.shape == (1001,) for column in columns.values())
        assert set(columns["tier"].tolist()) <= {"ok", "inaccurate", "wrong"}
    torch_row = report.rows[1]
    assert int((arrays["backends"]["torch"]["tier"] == "wrong").sum()) == torch_row.wrong
    assert isinstance(swept.figure, Figure) and swept.figure.axes
    png = io.BytesIO()
    swept.figure.savefig(png, format="png")
    assert png.getvalue().startswith(b"\x89PNG")


def test_sweep_html_has_the_table_and_the_figure(swept: Any) -> None:
    parsed = Parsed(swept._repr_html_())
    assert parsed.tags.count("table") == 1
    assert len(parsed.rows) == len(swept.report.rows) + 1  # a header, a row per backend
    assert parsed.rows == markdown_table(render_sweep_markdown(swept.report))
    assert swept.report.verdict() in "".join(parsed.text)
    (image,) = parsed.images
    assert (image["src"] or "").startswith("data:image/png;base64,")
    colours = {row[0]: styles[-1] for row, styles in zip(parsed.rows[1:], parsed.styles[1:],
                                                         strict=True)}
    expected = {"ok": "green", "inaccurate": "darkorange", "wrong": "red"}
    for row in swept.report.rows:
        assert colours[row.backend].endswith(f"color: {expected[row.status]}")


def test_a_report_alone_shows_no_image(swept: Any) -> None:
    parsed = Parsed(swept.report._repr_html_())
    assert parsed.images == [] and len(parsed.rows) == 3


def test_user_text_is_escaped(swept: Any) -> None:
    report = dataclasses.replace(swept.report, exact_expression="<b>x</b> & y")
    text = report._repr_html_()
    assert "<b>" not in text and "&lt;b&gt;x&lt;/b&gt; &amp; y" in text
    assert "<b>" not in swept._repr_html_().replace(swept.report._repr_html_(), "")
    point = compare("x**2", at=0.5, backends="analytic", isolate=False)
    point = dataclasses.replace(point, exact_expression="<script>alert(1)</script>")
    assert "<script>" not in point._repr_html_()
    assert "&lt;script&gt;" in point._repr_html_()


def test_compare_html_has_a_row_per_result_and_the_verdict() -> None:
    report = compare("2*x**3+4*x**2+5*x+6", at=[0.5, 1.5], backends="analytic,torch")
    parsed = Parsed(report._repr_html_())
    assert parsed.tags.count("table") == 1
    assert len(parsed.rows) == len(report.rows) + 1 == 5
    assert parsed.rows == markdown_table(render_markdown(report))
    assert report.verdict() in "".join(parsed.text)
    assert all(styles[-1].endswith("color: green") for styles in parsed.styles[1:])


def test_sweep_in_two_dtypes_keeps_arrays_per_dtype() -> None:
    result = sweep("x**2", range=("0", "1"), step=0.25, dtype="float32,float64",
                   backends="analytic", plot=False, isolate=False)
    assert result.figure is None
    assert set(result.arrays) == {"float32", "float64"}
    assert result.arrays["float64"]["x"].tolist() == [0.0, 0.25, 0.5, 0.75]
    parsed = Parsed(result._repr_html_())
    assert parsed.rows == markdown_table(render_sweep_markdown(result.report))
    assert parsed.rows[0][0] == "dtype" and parsed.images == []


@pytest.mark.parametrize(("arguments", "message"), [
    ({"expression": 5}, "expression"),
    ({"expression": "tanh(x"}, "never closed"),
    ({"range": (1,)}, "range"),
    ({"range": "0 1"}, "range"),
    ({"range": (0, 1, 2)}, "range"),
    ({"range": (0, True)}, "boolean"),
    ({"range": (1, 0)}, "start is above the end"),
    ({"num": 10, "step": 0.1}, "not both"),
    ({"num": 1.5}, "num"),
    ({"num": 1}, "at least 2 points"),
    ({"step": -1}, "positive"),
    ({"dtype": "float8"}, "dtype"),
    ({"backends": "pytorch"}, "backend"),
    ({"rtol": -1}, "rtol"),
    ({"plot": "yes"}, "plot"),
    ({"arrays": 1}, "arrays"),
    ({"session": object()}, "session"),
    ({"expression": "x*y"}, "--wrt"),
    ({"timeout": 0}, "timeout"),
    ({"order": 0}, "order"),
])
def test_bad_arguments_raise_value_error_before_any_work(
    arguments: dict[str, Any], message: str
) -> None:
    given: dict[str, Any] = {"expression": "tanh(x)", "range": (0, 1),
                             "backends": "analytic", **arguments}
    with pytest.raises(ValueError, match=message):
        sweep(given.pop("expression"), given.pop("range"), **given)


def test_sweep_is_exported() -> None:
    assert "sweep" in autograd_cli.__all__ and autograd_cli.sweep is sweep


def test_py_typed_ships_with_the_package() -> None:
    assert (importlib.resources.files("autograd_cli") / "py.typed").is_file()


def test_sweep_uses_the_sessions_warm_workers() -> None:
    from autograd_cli import Session

    with Session() as session:
        first = sweep("sin(x)", range=(0, 1), num=101, backends="analytic,torch",
                      arrays=False, plot=False, session=session)
        pids = session.pids
        again = sweep("cos(x)", range=(0, 1), num=101, backends="torch", arrays=False,
                      plot=False, session=session)
        assert "torch" in pids and session.pids["torch"] == pids["torch"]
    assert first.arrays == {} and first.figure is None and first.ok and again.ok
