"""``expect``: the derivative a suite's author knows to be right, checked on top of
cross-backend agreement.

Its own module because ``expect`` is checked twice, at different times: when the file
loads (:func:`match_expect`: one value per variable and point, formulas parsed) and after
the case ran (:func:`check_expect`: numbers against the exact derivative, formulas
against SymPy's, symbolically).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from autograd_cli.core.model import Request, notation
from autograd_cli.core.names import unknown
from autograd_cli.expr.nodes import Expr, variables
from autograd_cli.expr.parser import ExpressionError, parse
from autograd_cli.report.model import Report
from autograd_cli.suite.config import ConfigError
from autograd_cli.suite.model import Case


def match_expect(
    path: Path, where: str, expect: Any, request: Request
) -> tuple[Any, dict[str, Expr]]:
    """Match ``expect`` to the case's variables and points; parse formulas."""
    if expect is None:
        return None, {}
    place = f"{where}: expect"
    if isinstance(expect, dict):
        for name in expect:
            if name not in request.wrt:
                kind = "variable" if request.order == 1 else 'derivative (as "x,y")'
                raise ConfigError(path, unknown(kind, name, request.wrt, in_file=True),
                                  where=place)
        by_name = dict(expect)
    elif len(request.wrt) == 1:
        by_name = {request.wrt[0]: expect}
    else:
        raise ConfigError(
            path, f"the case differentiates by {', '.join(request.wrt)}; say which", where=place,
            hint="expect = { " + ", ".join(f'{n} = "..."' for n in request.wrt) + " }",
        )
    formulas: dict[str, Expr] = {}
    for name, value in by_name.items():
        if isinstance(value, tuple) and len(value) != request.size:
            raise ConfigError(
                path, f"{len(value)} numbers for {request.size} points", where=place,
                hint="give one number per point, or a formula string",
            )
        if isinstance(value, str):
            try:
                formulas[name] = parse(value)
            except ExpressionError as error:
                rendered = error.render().splitlines()
                raise ConfigError(
                    path, error.message, where=place, hint=error.hint,
                    excerpt=[line[2:] for line in rendered if line.startswith("  ")],
                ) from None
            extra = [v for v in variables(formulas[name]) if v not in request.variables]
            if extra:
                raise ConfigError(
                    path, f"the formula uses {', '.join(extra)}, which the expression "
                    f"does not have", where=place,
                    hint=f"the expression's variables: {', '.join(request.variables)}",
                )
    return by_name, formulas


def check_expect(case: Case, report: Report) -> list[str]:
    """Problems with ``expect``: numbers against the exact derivative within the case's
    tolerance, formulas against SymPy's derivative, symbolically."""
    if not case.expect:
        return []
    problems: list[str] = []
    first = (report.rows[0].backend, report.rows[0].mode) if report.rows else None
    for name, expected in case.expect.items():
        if isinstance(expected, str):
            problems += _check_formula(case, name, expected)
            continue
        rows = [row for row in report.rows
                if row.wrt == name and (row.backend, row.mode) == first]
        values = expected if isinstance(expected, tuple) else (expected,) * len(rows)
        tolerance = case.tolerance
        for row, value in zip(rows, values, strict=True):
            exact = math.nan if row.exact is None else row.exact
            if math.isnan(exact) and math.isnan(value):
                continue
            error = abs(value - exact)
            if not error <= tolerance.atol + tolerance.rtol * abs(exact) and error != 0:
                where = ", ".join(f"{k} = {v!r}" for k, v in row.point.items())
                problems.append(
                    f"expect: {notation(name)} at {where} should be {value!r}, "
                    f"the exact derivative is {exact!r} (off by {error:.3g})"
                )
    return problems


def _check_formula(case: Case, name: str, expected: str) -> list[str]:
    import sympy

    from autograd_cli.truth.symbolic import derivative, format_sympy, to_sympy

    exact = derivative(case.request.expr, name)
    difference = exact - to_sympy(case.expect_expr[name])
    if difference == 0 or sympy.simplify(difference) == 0 or difference.equals(0) is True:
        return []
    return [f"expect: {notation(name)} should be {expected}, the exact derivative is "
            f"{format_sympy(exact)}"]
