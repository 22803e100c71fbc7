"""The data that flows one way through gradcheck: Request in, BackendResult out.

Only numpy arrays and plain Python values live here, so results cross process
boundaries without any framework type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from autograd_cli.expr.nodes import Expr

DTYPES: tuple[str, ...] = ("float32", "float64")

#: ok: computed. The rest are ways a backend can fail to compute; each becomes a row.
RunStatus = Literal["ok", "error", "unavailable", "crashed", "timeout"]
FAILURE_STATUSES: tuple[str, ...] = ("error", "unavailable", "crashed", "timeout")


@dataclass(frozen=True)
class Request:
    """One comparison: an expression, points (one array per variable), what to compare."""

    text: str
    expr: Expr
    variables: tuple[str, ...]
    points: dict[str, np.ndarray]  # variable -> 1-D float64 array, all the same length
    wrt: tuple[str, ...]
    dtype: str = "float32"
    backends: tuple[str, ...] = ("analytic", "torch", "tensorflow")
    timeout: float = 120.0

    @property
    def size(self) -> int:
        return len(next(iter(self.points.values()))) if self.points else 0

    def inputs(self) -> dict[str, np.ndarray]:
        """The points as every backend sees them: rounded to the compared dtype."""
        return {name: np.ascontiguousarray(a, dtype=self.dtype) for name, a in self.points.items()}


@dataclass
class BackendResult:
    """One backend's answer for one request, or why there is none."""

    backend: str
    status: RunStatus
    dtype: str
    method: str = ""
    version: str | None = None
    values: np.ndarray | None = None
    derivatives: dict[str, np.ndarray] = field(default_factory=dict)
    reason: str | None = None
    seconds: float = 0.0
    #: What a backend reports beyond values and derivatives, e.g. finite-diff's
    #: ``error_estimate`` ({variable: array per point}) or analytic's expressions.
    extra: dict[str, Any] = field(default_factory=dict)
