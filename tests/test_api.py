"""The Python API gives notebook users what the command prints."""

from __future__ import annotations

import pytest

from autograd_cli import compare, parse
from autograd_cli.expr.nodes import Binary


def test_compare_tutorial_all_backends():
    report = compare("2*x**3+4*x**2+5*x+6", at=0.5)
    assert report.ok and report.exit_code == 0
    assert report.backends == ["analytic", "torch", "tensorflow", "jax", "finite-diff"]
    assert [row.derivative for row in report.rows] == [10.5] * 5
    assert [row.value for row in report.rows] == [9.75] * 5
    assert report.derivative_expressions == {"x": "6*x**2 + 8*x + 5"}
    data = report.to_dict()
    assert data["ok"] is True and len(data["results"]) == 5


def test_compare_mapping_points_and_wrt():
    report = compare("x**2*y", at=[{"x": 3, "y": 2}, {"x": 1, "y": 1}], wrt="x",
                     backends="analytic", dtype="float64")
    assert [row.derivative for row in report.rows] == [12.0, 2.0]
    assert {row.wrt for row in report.rows} == {"x"}


def test_compare_takes_points_as_values_or_as_at_text():
    """Numbers travel as numbers (no text round trip); text reads as --at does."""
    exact = 0.1 + 2**-40  # its shortest repr is long: a value, not a decimal to reparse
    by_value = compare("x**2", at={"x": exact}, backends="analytic", dtype="float64")
    assert by_value.rows[0].point == {"x": exact}
    by_text = compare("x*y", at=["x=1,y=2", {"x": 3, "y": 4}], backends="analytic",
                      wrt="y", dtype="float64")
    assert [row.derivative for row in by_text.rows] == [1.0, 3.0]
    with pytest.raises(ValueError, match="unknown variable 'q'"):
        compare("x", at={"q": 1.0})
    with pytest.raises(ValueError, match="no value for y"):
        compare("x*y", at={"x": 1.0})
    with pytest.raises(ValueError, match="'one' is not a number"):
        compare("x", at={"x": "one"})


def test_compare_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="missing operator") as raised:
        compare("2x", at=1.0)
    assert "2*x" in (raised.value.hint or "")
    with pytest.raises(ValueError, match="unknown backend"):
        compare("x", at=1.0, backends="nope")


def test_parse_builds_our_tree():
    tree = parse("x**2")
    assert isinstance(tree, Binary) and tree.op == "pow"
