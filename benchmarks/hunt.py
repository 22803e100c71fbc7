"""`make bench`: how many expressions `gradcheck hunt` checks per second, all backends warm.

The workers are started and every framework loaded first (one comparison, not timed),
then the hunt's own loop runs for ``--seconds`` with a fixed seed, so the figure is the
search's throughput (generation, the frameworks' work, the exact reference, the verdict
and any shrinking), not start-up. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--order", default="1", help="orders, comma-separated")
    parser.add_argument("--backends", default=None, help="default: every installed framework")
    args = parser.parse_args()

    from autograd_cli.hunt.dedup import Findings
    from autograd_cli.hunt.generate import Generator
    from autograd_cli.hunt.search import Checker, Stats, hunt
    from autograd_cli.inputs import parse_backends

    chosen, _ = parse_backends(args.backends)
    backends = tuple(b for b in chosen if b not in ("analytic", "finite-diff"))
    orders = [int(n) for n in args.order.split(",")]
    checker = Checker(backends, ulps=None, timeout=20.0)
    try:
        started = time.perf_counter()
        checker.run("sin(x)", [0.5], backends, "float32", max(orders), "reverse")
        warm = time.perf_counter() - started
        findings, stats = Findings(), Stats()
        hunt(Generator(args.seed, orders=orders), checker, findings, stats, budget=args.seconds)
    finally:
        checker.close()
    print(f"hunt throughput ({', '.join(backends)}; float32, order {args.order}, reverse; "
          f"seed {args.seed}; warm-up {warm:.1f} s not counted)")
    print(f"  {stats.checked} expressions checked in {stats.seconds:.1f} s: "
          f"{stats.rate:.2f} expressions/s ({stats.skipped} skipped)")
    total = stats.checked + stats.shrink_checks
    per = total / stats.seconds if stats.seconds > 0 else 0.0
    print(f"  {stats.shrink_checks} shrinking checks ({per:.2f} checks/s in all), "
          f"{len(findings)} findings ({findings.hits} hits)")


if __name__ == "__main__":
    main()
