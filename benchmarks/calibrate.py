"""Calibrate the verdict tiers on a corpus: how many rows each tier holds per backend
and dtype, and the largest error still called ``ok``.

Runs the real frameworks in this process (no workers) over: the test corpora (every
function and operator of the grammar at points inside its domain), orders 1 to 4 of
its one-variable cases, identities whose terms cancel, and sweeps of every function
over wide ranges; in float16, bfloat16, float32 and float64. ``python
benchmarks/calibrate.py`` prints the table that docs/truth.md publishes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import numpy as np
from corpus import CORPUS, ML_CORPUS

from autograd_cli.comparison import sweep
from autograd_cli.comparison.points import run_check
from autograd_cli.comparison.verdicts import tolerance_for, ulp
from autograd_cli.inputs import InputError, build_request

DTYPES = ("float16", "bfloat16", "float32", "float64")
BACKENDS = ("torch", "tensorflow", "jax", "finite-diff")
TIERS = ("ok", "inaccurate", "wrong")
#: Identities whose terms cancel: the derivative is as accurate as the dtype allows
#: only relative to the size of the terms, which the noise floor measures.
IDENTITIES = (
    ("(x+2)**3 - x**3 - 6*x**2 - 12*x", ("-40", "40")),
    ("sin(x)**2 + cos(x)**2", ("-10", "10")),
    ("cosh(x)**2 - sinh(x)**2", ("-5", "5")),
    ("exp(x)*exp(-x)", ("-20", "20")),
    ("log(exp(x))", ("-20", "20")),
    ("(x+1)**2 - (x-1)**2 - 4*x", ("-1000", "1000")),
)
#: Every function of the grammar over a wide range of its domain.
SWEEPS = (
    ("sin(x)", ("-100", "100")), ("cos(x)", ("-100", "100")), ("tan(x)", ("-1.5", "1.5")),
    ("asin(x)", ("-0.999", "0.999")), ("acos(x)", ("-0.999", "0.999")),
    ("atan(x)", ("-1000", "1000")), ("sinh(x)", ("-80", "80")), ("cosh(x)", ("-80", "80")),
    ("tanh(x)", ("-20", "20")), ("exp(x)", ("-80", "80")), ("log(x)", ("0.001", "1000")),
    ("log2(x)", ("0.001", "1000")), ("log10(x)", ("0.001", "1000")),
    ("sqrt(x)", ("0.0001", "10000")), ("abs(x)", ("-100", "100")),
    ("sigmoid(x)", ("-30", "30")), ("x**3 - 3*x", ("-100", "100")),
    ("exp(-x**2/2)", ("-10", "10")), ("log(1 + exp(x))", ("-30", "30")),
    # the ML and special functions (issue 14); kinks, ties, jumps and poles are labelled
    ("log1p(x)", ("-0.999", "1000")), ("expm1(x)", ("-80", "80")), ("erf(x)", ("-6", "6")),
    ("erfc(x)", ("-6", "25")), ("erfinv(x)", ("-0.999", "0.999")),
    ("lgamma(x)", ("-9.99", "50")), ("digamma(x)", ("-9.99", "50")),
    ("asinh(x)", ("-1000", "1000")), ("acosh(x)", ("1.001", "1000")),
    ("atanh(x)", ("-0.999", "0.999")), ("softplus(x)", ("-30", "30")),
    ("log_sigmoid(x)", ("-30", "30")), ("relu(x)", ("-10", "10")), ("relu6(x)", ("-10", "10")),
    ("leaky_relu(x, 0.2)", ("-10", "10")), ("elu(x)", ("-20", "20")),
    ("selu(x)", ("-20", "20")), ("silu(x)", ("-30", "30")), ("gelu(x)", ("-10", "10")),
    ("gelu_tanh(x)", ("-10", "10")), ("softsign(x)", ("-100", "100")),
    ("hard_sigmoid(x)", ("-10", "10")), ("mish(x)", ("-30", "30")),
    ("clip(x, -1, 1)", ("-3", "3")), ("sinc(x)", ("-10", "10")),
    ("sign(x)*x + floor(x)*x", ("-5", "5")), ("square(x) + rsqrt(x)", ("0.0001", "100")),
    ("atan2(x, 1.5)", ("-100", "100")), ("hypot(x, 2)", ("-100", "100")),
    ("xlogy(x, 2.5)", ("-10", "10")), ("minimum(x, 1) + maximum(x, -1)", ("-10", "10")),
)


class Tally:
    """Rows (points) per backend, dtype and tier; the largest ok error per dtype."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.largest_ok: dict[tuple[str, str], tuple[float, str]] = {}
        self.wrong: list[str] = []

    def add(self, backend: str, dtype: str, tier: str, n: int = 1) -> None:
        self.counts[backend, dtype][tier] += n

    def ok_error(self, dtype: str, backend: str, ulps: float | None, where: str) -> None:
        """The largest ok error, in ULPs of max(|exact|, floor), frameworks apart from
        finite-diff (judged by its own estimate)."""
        kind = "finite-diff" if backend == "finite-diff" else "frameworks"
        if ulps is not None and ulps > self.largest_ok.get((kind, dtype), (0.0, ""))[0]:
            self.largest_ok[kind, dtype] = (ulps, where)


def run_points(tally: Tally, orders: int) -> None:
    for case in (*CORPUS, *ML_CORPUS):  # a framework without an op: unsupported, not tallied
        names = case.variables
        size = len(next(iter(case.points.values())))
        at = [",".join(f"{n}={case.points[n][i]!r}" for n in names) if len(names) > 1
              else repr(case.points[names[0]][i]) for i in range(size)]
        for order in range(1, (orders if len(names) == 1 else 1) + 1):
            for dtype in DTYPES:
                try:
                    request = build_request(case.text, at, dtype=dtype, backends=BACKENDS,
                                            order=order)
                except InputError:
                    continue
                report = run_check(request, tolerance_for(dtype), isolate=False)
                for row in report.rows:
                    if row.status in TIERS:
                        tally.add(row.backend, dtype, row.status)
                        where = f"{case.text} order {order} at {row.point} ({row.backend})"
                        if row.status == "ok" and row.abs_error is not None:
                            scale = max(abs(row.exact or 0.0), row.noise_floor or 0.0)
                            tally.ok_error(dtype, row.backend, row.abs_error / float(
                                ulp(np.array([scale]), dtype)[0]), where)
                        elif row.status == "wrong":
                            tally.wrong.append(f"{where} {dtype}: {row.derivative!r} vs "
                                               f"{row.exact!r} ({row.reason or ''})")


def run_sweeps(tally: Tally, num: int) -> None:
    for text, span in (*IDENTITIES, *SWEEPS):
        for dtype in DTYPES:
            plan, _ = sweep.build_sweep(text, span, num=str(num), dtype=dtype,
                                        backends=BACKENDS)
            report = sweep.run_sweep(plan, tolerance_for(dtype), isolate=False)
            for row in report.rows:
                if row.failed:
                    continue
                judged = row.points - sum(row.special.values())
                tally.add(row.backend, dtype, "wrong", row.wrong)
                tally.add(row.backend, dtype, "inaccurate", row.inaccurate)
                tally.add(row.backend, dtype, "ok", judged - row.wrong - row.inaccurate)
                tally.ok_error(dtype, row.backend, row.max_ok_ulp_error,
                               f"{text} sweep ({row.backend})")
                if row.wrong:
                    tally.wrong.append(f"{text} over {span} {dtype}: {row.backend} wrong at "
                                       f"{row.wrong} of {row.points} points, worst at "
                                       f"x = {row.worst_at!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=4)
    parser.add_argument("--num", type=int, default=2001, help="points per sweep")
    args = parser.parse_args()
    started = time.perf_counter()
    tally = Tally()
    run_points(tally, args.orders)
    run_sweeps(tally, args.num)
    print(f"{'backend':<12} {'dtype':<9} " + " ".join(f"{t:>11}" for t in TIERS))
    for (backend, dtype), counts in sorted(tally.counts.items()):
        print(f"{backend:<12} {dtype:<9} " + " ".join(f"{counts[t]:>11,}" for t in TIERS))
    print()
    print("largest error called ok, in ULPs of max(|exact|, floor):")
    for kind in ("frameworks", "finite-diff"):
        for dtype in DTYPES:
            ulps, where = tally.largest_ok.get((kind, dtype), (0.0, "-"))
            print(f"  {kind:<11} {dtype:<9} {ulps:10.3g}  ({where})")
    print()
    print(f"wrong ({len(tally.wrong)}):")
    for line in tally.wrong:
        print("  " + line)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
