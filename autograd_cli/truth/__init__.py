"""The exact reference: what every backend is judged by.

:mod:`~autograd_cli.truth.symbolic` differentiates our tree in SymPy,
:mod:`~autograd_cli.truth.mpmath_ops` evaluates SymPy's tree in mpmath,
:mod:`~autograd_cli.truth.point` gives exact values at given points (adaptive precision),
:mod:`~autograd_cli.truth.vectorized` the same for a sweep's millions of points
(double-double in numpy, certified, mpmath where it cannot certify; its arithmetic in
:mod:`~autograd_cli.truth.double_double`, its functions in
:mod:`~autograd_cli.truth.dd_functions`), and
:mod:`~autograd_cli.truth.deadline` keeps either within the request's --timeout.
Nothing here imports SymPy or mpmath until it runs.
"""

from autograd_cli.truth.deadline import Deadline, ReferenceTimeout
from autograd_cli.truth.point import Reference, reference, round_double_double
from autograd_cli.truth.symbolic import derivative, differentiate, format_sympy, to_sympy

__all__ = [
    "Deadline",
    "Reference",
    "ReferenceTimeout",
    "derivative",
    "differentiate",
    "format_sympy",
    "reference",
    "round_double_double",
    "to_sympy",
]
