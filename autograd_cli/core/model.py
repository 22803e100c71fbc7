"""The data that flows one way through gradcheck: Request in, BackendResult out.

Only numpy arrays and plain Python values live here, so results cross process
boundaries without any framework type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_cli.core.dtypes import round_to
from autograd_cli.core.statuses import RunStatus

if TYPE_CHECKING:
    from autograd_cli.expr.nodes import Expr

#: Where a framework computes; analytic and finite-diff run on the CPU whatever is asked.
DEVICES: tuple[str, ...] = ("cpu", "cuda")

#: Highest derivative order: each order nests one more tape/transform (the graph to
#: differentiate roughly doubles), central differences need 2**N evaluations per step,
#: and SymPy's expressions grow quickly; beyond 4 the answers say little about autodiff.
MAX_ORDER = 4
#: How an autodiff framework differentiates; "both" in a request asks for a row of each.
MODES: tuple[str, ...] = ("reverse", "forward")
MODE_CHOICES: tuple[str, ...] = (*MODES, "both")

#: A derivative as the variables it differentiates by, in order: ("x",) is df/dx,
#: ("x", "x") d2f/dx2, ("x", "y") d2f/dxdy. Its label joins them with commas.
Partial = tuple[str, ...]


def label(partial: Partial) -> str:
    """A derivative's name in rows, dicts and JSON: "x", "x,x", "x,y"."""
    return ",".join(partial)


def partial_of(name: str) -> Partial:
    """The variables a label differentiates by (a plain variable: first order)."""
    return tuple(name.split(","))


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def powers(partial: Partial) -> list[tuple[str, int]]:
    """A partial as variables with their repeat counts, in order: (x, x, y) -> x², y."""
    found: list[tuple[str, int]] = []
    for variable in partial:
        if found and found[-1][0] == variable:
            found[-1] = (variable, found[-1][1] + 1)
        else:
            found.append((variable, 1))
    return found


def notation(name: str, f: str = "f") -> str:
    """A derivative as people write it: df/dx, d²f/dx², d²f/dxdy, d³f/dx²dy."""
    partial = partial_of(name)

    def power(n: int) -> str:
        return "" if n == 1 else str(n).translate(_SUPERSCRIPTS)

    below = "".join(f"d{variable}{power(n)}" for variable, n in powers(partial))
    return f"d{power(len(partial))}{f}/{below}"




@dataclass(frozen=True)
class Request:
    """One comparison: an expression, points (one array per variable), what to compare."""

    text: str
    expr: Expr
    variables: tuple[str, ...]
    points: dict[str, np.ndarray]  # variable -> 1-D float64 array, all the same length
    wrt: tuple[str, ...]  # the derivatives, by label: "x" (df/dx), "x,x", "x,y"
    dtype: str = "float32"
    backends: tuple[str, ...] = ("analytic", "torch", "tensorflow")
    timeout: float = 120.0
    device: str = "cpu"
    order: int = 1
    mode: str = "reverse"  # or "forward", or "both" (a row per mode)

    @property
    def size(self) -> int:
        return len(next(iter(self.points.values()))) if self.points else 0

    @property
    def partials(self) -> tuple[Partial, ...]:
        return tuple(partial_of(name) for name in self.wrt)

    @property
    def modes(self) -> tuple[str, ...]:
        return MODES if self.mode == "both" else (self.mode,)

    def inputs(self) -> dict[str, np.ndarray]:
        """The points as every backend sees them: rounded (once) to the compared dtype."""
        return {
            name: np.ascontiguousarray(round_to(a, self.dtype)) for name, a in self.points.items()
        }


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
    #: Where it computed: the asked device, or "cpu" for a backend that has no other.
    device: str = "cpu"
    #: "reverse" or "forward" for a framework; None for a backend without modes.
    mode: str | None = None
    #: What a backend reports beyond values and derivatives, e.g. finite-diff's
    #: ``error_estimate`` ({variable: array per point}) or analytic's expressions.
    extra: dict[str, Any] = field(default_factory=dict)

    def error_estimate(self, label: str) -> np.ndarray | None:
        """Its own bound on its error per point for ``label`` (finite-diff), if any."""
        estimates = self.extra.get("error_estimate")
        if not isinstance(estimates, dict) or label not in estimates:
            return None
        return np.asarray(estimates[label], dtype=np.float64)
