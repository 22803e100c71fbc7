"""`make bench`, the service's part: warm repeats from the shell next to cold runs.

Each round, side by side (in alternating order): today's cold check (``--no-service``)
and the plain TF script; and the first run with the service on (it runs the check
itself, then starts the service in the background), then, once the service has loaded
the frameworks, repeat checks that differ from the first (another expression, points,
dtype, order) through the service, which is then stopped: every round's first run is a
first run, and nothing cold is timed while a service holds the machine. The service
lives in a private folder (its own XDG_RUNTIME_DIR), never the user's, and is on even
when CI is set. The median of the rounds is reported with the targets of issue [5/7];
nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXPRESSION = "2*x**3+4*x**2+5*x+6"
GRADCHECK = str(Path(sys.executable).parent / "gradcheck")
BACKENDS = "analytic,torch,tensorflow,jax,finite-diff"  # the five of issue [5/7]
FIRST = [GRADCHECK, EXPRESSION, "--at", "0.5", "--backends", BACKENDS]
#: Repeats that differ from the first run in every way a user changes a check.
REPEATS = [
    [
        GRADCHECK,
        "sin(x)*exp(x)",
        "--at",
        "0.3",
        "--at",
        "1.7",
        "--dtype",
        "float64",
        "--order",
        "2",
        "--backends",
        BACKENDS,
    ],
    [GRADCHECK, EXPRESSION, "--at", "-1.25", "--mode", "forward", "--backends", BACKENDS],
    [GRADCHECK, "tanh(x)*y", "--at", "x=0.5,y=2", "--backends", BACKENDS],
]
TF_ONLY = """
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
x = tf.Variable(0.5)
with tf.GradientTape() as tape:
    y = 2 * x ** 3 + 4 * x ** 2 + 5 * x + 6
print(float(tape.gradient(y, x)))
"""


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        sys.exit(
            f"benchmark command failed ({result.returncode}): {' '.join(command)}\n"
            f"{result.stderr[-2000:]}"
        )
    return elapsed


def status(env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [GRADCHECK, "service", "status", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    return dict(json.loads(done.stdout))


def wait_ready(env: dict[str, str], patience: float = 600.0) -> None:
    """Until the service started by the first run has loaded its frameworks and
    compiled every function in the background (about a minute on two cores)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        found = status(env)
        if found.get("running") and not found.get("warming") and not found.get("compiling"):
            return
        time.sleep(0.2)
    sys.exit("the service did not come up")


def stop(env: dict[str, str]) -> None:
    subprocess.run(
        [GRADCHECK, "service", "stop"], capture_output=True, env=env, stdin=subprocess.DEVNULL
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        runtime = Path(folder) / "run"
        runtime.mkdir(mode=0o700)
        script = Path(folder) / "tf_only.py"
        script.write_text(TF_ONLY)
        env = {
            **os.environ,
            "XDG_RUNTIME_DIR": str(runtime),
            "GRADCHECK_SERVICE": "1",
            "GRADCHECK_BACKENDS": BACKENDS,
        }
        times: dict[str, list[float]] = {"cold": [], "tf": [], "first": [], "warm": []}
        try:
            for round_number in range(args.rounds):
                print(f"round {round_number + 1}/{args.rounds} ...", file=sys.stderr)

                def served() -> None:
                    stop(env)
                    times["first"].append(timed(FIRST, env))
                    wait_ready(env)
                    times["warm"].append(statistics.median(timed(c, env) for c in REPEATS))
                    stop(env)  # its workers gone before anything cold is timed

                def cold() -> None:
                    times["cold"].append(timed([*FIRST, "--no-service"], env))
                    times["tf"].append(timed([sys.executable, str(script)], env))

                for part in (cold, served) if round_number % 2 == 0 else (served, cold):
                    part()
        finally:
            stop(env)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{'command':<52} {'median s':>9}  (rounds: {args.rounds})")
    for name, label in (
        ("cold", "gradcheck --at 0.5, cold (--no-service)"),
        ("tf", "plain TF script (import + one GradientTape)"),
        ("first", "first run with the service on (starts it)"),
        ("warm", "warm repeat through the service (other checks)"),
    ):
        print(f"{label:<52} {median[name]:9.2f}")
    print()
    print("ratio                                              measured  target")
    print(f"warm repeat (s), all five backends                 {median['warm']:8.2f}  <= 0.30")
    print(
        f"warm repeat / cold check                           "
        f"{median['warm'] / median['cold']:8.3f}  <= 0.08"
    )
    print(
        f"warm repeat / plain TF script                      {median['warm'] / median['tf']:8.3f}"
    )
    print(
        f"cold first run (starts the service) / cold run     "
        f"{median['first'] / median['cold']:8.3f}  <= 1.05"
    )


if __name__ == "__main__":
    main()
