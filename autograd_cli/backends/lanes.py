"""Points computed in whole vectors, so a point's bits do not depend on its company.

The frameworks' CPU kernels compute some points with other code than a large tensor's:
TensorFlow's and XLA's ``log`` in float32 rounded some points one ULP otherwise when
checked alone (or 3, 5, 7 at a time) than among 64 (the points after the last full SIMD
vector), and torch's gelu backward in float32 at -8 is -4.04e-14 for a lone point, 0 in
any tensor of two or more. torch, TensorFlow and JAX therefore compute a multiple of 16
points (a whole AVX-512 vector of float32), repeating the last point, and drop the
extra ones: the ops are elementwise, so the points asked for get the bits a user's large
tensor gives them. Few shapes also let eager JAX reuse its compiled ops: it compiles
every op anew for each shape, 10-50 ms each, the bulk of a new expression's time in a
warm worker.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: A whole vector of float32 on AVX-512 (two of float64); smaller checks all run as 16.
SMALLEST = 16
#: Up to here sizes are powers of two (few shapes); beyond, multiples of SMALLEST.
POWERS_UP_TO = 1024


def size_for(n: int) -> int:
    """How many points to compute for ``n`` points."""
    if n <= POWERS_UP_TO:
        return max(SMALLEST, 1 << (n - 1).bit_length())
    return -(-n // SMALLEST) * SMALLEST


def pad(points: Any, size: int) -> np.ndarray:
    """``points`` followed by copies of the last one, ``size`` in all."""
    column = np.asarray(points)
    return np.concatenate([column, np.repeat(column[-1:], size - len(column))])


def first(computed: Any, n: int) -> np.ndarray:
    """The first ``n`` of what was computed for the padded points (a 0-d value, such as
    a constant's derivative, broadcast)."""
    array = np.asarray(computed)
    return np.broadcast_to(array[:n] if array.ndim else array, (n,))
