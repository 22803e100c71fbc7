"""The exact reference's cost for sweeps of every function, next to ``sin``'s.

float32: the vectorized reference (:mod:`autograd_cli.truth.vectorized`) of the first
derivative over 10^6 points, its seconds (the best of 3 runs) and its ratio to the same
sweep over sin (target: at most 3), and how many points it left to mpmath. float64: where the
vectorized bound cannot certify 58 bits (the scipy-valued functions), points go to
the exact mpmath reference one by one; its cost per point is printed for each
function (:func:`autograd_cli.truth.point.reference` over a small sample).
Nothing here asserts; ``python benchmarks/sweep_reference.py [--points N]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from autograd_cli.expr.functions import FUNCTIONS
from autograd_cli.expr.parser import parse
from autograd_cli.truth import point
from autograd_cli.truth.vectorized import SweepReference

#: Each function's sweep range: [-4, 4] unless its domain is narrower.
RANGES: dict[str, tuple[float, float]] = {
    "erfinv": (-0.99, 0.99),
    "atanh": (-0.99, 0.99),
    "acosh": (1.0, 5.0),
    "asin": (-1.0, 1.0),
    "acos": (-1.0, 1.0),
    "log": (0.0, 4.0),
    "log2": (0.0, 4.0),
    "log10": (0.0, 4.0),
    "sqrt": (0.0, 4.0),
    "rsqrt": (0.0, 4.0),
    "log1p": (-1.0, 4.0),
}


def case(name: str, n: int) -> tuple[str, dict[str, np.ndarray]]:
    low, high = RANGES.get(name, (-4.0, 4.0))
    x = np.linspace(low, high, n)
    if FUNCTIONS[name].arity == 2:
        return f"{name}(x, y)", {"x": x, "y": np.full(n, 0.75)}
    return (f"{name}(x, -1, 2)" if name == "clip" else f"{name}(x)"), {"x": x}


def sweep_seconds(text: str, inputs: dict[str, np.ndarray], bits: int,
                  repeat: int = 3) -> tuple[float, int]:
    """The fastest of ``repeat`` runs (a fraction of a second each: the best of a few
    is what the code costs, the rest is the machine's noise)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        truth = SweepReference(parse(text), ("x",), values=False, bits=bits)(inputs)
        best = min(best, time.perf_counter() - started)
    return best, truth.recomputed


def point_microseconds(text: str, inputs: dict[str, np.ndarray], sample: int) -> float:
    picked = {k: v[:: max(1, len(v) // sample)][:sample] for k, v in inputs.items()}
    started = time.perf_counter()
    point.reference(parse(text), picked, ("x",))
    return (time.perf_counter() - started) / len(next(iter(picked.values()))) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=200, help="float64 slow-path sample")
    parser.add_argument("--functions", default="", help="comma-separated (default: all)")
    args = parser.parse_args()
    names = [n for n in args.functions.split(",") if n] or list(FUNCTIONS)
    sweep_seconds(*case("sin", 1000), 48)  # imports and SymPy's first call, not counted
    point_microseconds(*case("sin", 10), 3)  # nor the mpmath reference's (the first
    # function with a point left to mpmath would pay them)
    base, _ = sweep_seconds(*case("sin", args.points), 48)
    print(
        f"{'function':<13} {'float32 s':>9} {'/ sin':>6} {'to mpmath':>9}   "
        f"{'float64: mpmath µs/point':>24}  (sin: {base:.2f} s, target <= 3x)"
    )
    for name in names:
        text, inputs = case(name, args.points)
        seconds, recomputed = sweep_seconds(text, inputs, 48)
        slow = point_microseconds(text, inputs, args.sample)
        print(
            f"{name:<13} {seconds:9.2f} {seconds / base:6.2f} {recomputed:9d}   {slow:24.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
