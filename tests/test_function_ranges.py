"""Every new function over a range, through the whole comparison (each framework's own
op, the exact reference, the noise floor, the labels at kinks, ties and poles), with
every installed backend, in float32: no row may be ``wrong``.

A range per function crosses its kinks and ties (labelled, not judged) and stays inside
its domain; the float32 ranges avoid the tails where a framework is known to lose the
derivative (elu/selu below -16, gelu below -5, gelu_tanh below -3.8: see
docs/functions.md), and finite differences the last steps before erfinv's edge at 1. The
frameworks stay warm across the cases (one pool per process), so this costs one start-up
plus a fraction of a second per function.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograd_cli import compare

TYPICAL = np.round(np.linspace(-4, 4, 41), 10).tolist()  # through 0 and the integers


def _range(lo: float, hi: float, num: int = 41) -> list[float]:
    return np.round(np.linspace(lo, hi, num), 10).tolist()


CASES: dict[str, list[float]] = {
    "log1p(x)": _range(-0.9, 4),
    "expm1(x)": TYPICAL,
    "erf(x)": TYPICAL,
    "erfc(x)": TYPICAL,
    "erfinv(x)": _range(-0.9, 0.9),  # finite-diff's steps need room before the edge at 1
    "lgamma(x)": _range(-3.9, 4.1),
    "digamma(x)": _range(-3.9, 4.1),
    "asinh(x)": TYPICAL,
    "acosh(x)": _range(1, 5),
    "atanh(x)": _range(-0.95, 0.95),
    "softplus(x)": TYPICAL,
    "log_sigmoid(x)": TYPICAL,
    "relu(x)": TYPICAL,
    "relu6(x)": _range(-2, 8),
    "leaky_relu(x, 0.2)": TYPICAL,
    "elu(x)": TYPICAL,
    "elu(x, 1.5)": TYPICAL,
    "selu(x)": TYPICAL,
    "silu(x)": TYPICAL,
    "gelu(x)": TYPICAL,
    "gelu_tanh(x)": _range(-3.5, 4),  # below -3.8 every framework loses 11+ bits
    "softsign(x)": TYPICAL,
    "hard_sigmoid(x)": TYPICAL,
    "mish(x)": TYPICAL,
    "minimum(x, 1 - x)": TYPICAL,
    "maximum(x, 0.5*x)": TYPICAL,
    "clip(x, -1, 1)": TYPICAL,
    "atan2(x, 1.5)": TYPICAL,
    "atan2(1, x)": TYPICAL,
    "hypot(x, 2)": TYPICAL,
    "xlogy(x, 2.5)": _range(0.1, 4),
    "xlogy(2, x)": _range(0.1, 4),
    "sinc(x)": TYPICAL,
    "sign(x)": TYPICAL,
    "floor(x)": _range(-3.5, 3.5, 36),
    "square(x)": TYPICAL,
    "rsqrt(x)": _range(0.1, 4),
}


@pytest.mark.parametrize("expression", list(CASES))
def test_no_backend_is_wrong_over_a_range(expression: str) -> None:
    report = compare(expression, at=CASES[expression], dtype="float32")
    assert len(report.rows) >= 5 * len(CASES[expression]) - 1  # every backend, every point
    wrong = [f"{row.backend} at {row.point}: {row.derivative} (exact {row.exact}); "
             f"{row.reason or ''}" for row in report.rows if row.status == "wrong"]
    assert not wrong, f"{expression}: {wrong[:5]}"
    assert {row.status for row in report.rows} <= {
        "ok", "inaccurate", "nondifferentiable", "undefined", "unsupported", "overflow",
        "underflow"}
