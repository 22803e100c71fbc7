"""`make bench`: gradcheck's costs next to plain framework scripts, measured side by side.

Every command runs cold (a fresh interpreter) and the rounds interleave the commands,
so a busy machine slows all of them alike; the median of the rounds is reported.
Targets from the issues are printed beside the measured ratios; nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXPRESSION = "2*x**3+4*x**2+5*x+6"
BIN = Path(sys.executable).parent
GRADCHECK = str(BIN / "gradcheck")
PYTHON = sys.executable
THREE = "analytic,torch,tensorflow"

TF_ONLY = """
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
x = tf.Variable(0.5)
with tf.GradientTape() as tape:
    y = 2 * x ** 3 + 4 * x ** 2 + 5 * x + 6
print(float(tape.gradient(y, x)))
"""

TUTORIAL = """
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import torch
x = torch.tensor(0.5, requires_grad=True)
y = 2 * x ** 3 + 4 * x ** 2 + 5 * x + 6
y.backward()
print(float(x.grad))
import tensorflow as tf
x = tf.Variable(0.5)
with tf.GradientTape() as tape:
    y = 2 * x ** 3 + 4 * x ** 2 + 5 * x + 6
print(float(tape.gradient(y, x)))
"""

BARE_SWEEP = """
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import torch
x = torch.linspace(-4, 4, 1_000_000, requires_grad=True)
y = 2 * x ** 3 + 4 * x ** 2 + 5 * x + 6
y.backward(torch.ones_like(y))
print(float(x.grad.sum()))
import tensorflow as tf
x = tf.Variable(tf.linspace(-4.0, 4.0, 1_000_000))
with tf.GradientTape() as tape:
    y = 2 * x ** 3 + 4 * x ** 2 + 5 * x + 6
print(float(tf.reduce_sum(tape.gradient(y, x))))
"""

#: compare() twice in one process, the second with other arguments: what a notebook
#: pays for a repeat once the frameworks' workers are warm (prints the seconds).
#: {backends} is filled in: the three of the point check, or all five (JAX compiles
#: each op of a new expression on its first call in a process: 10-50 ms each).
#: {settle}: 1 to wait, as a person typing the next call does, until the workers have
#: compiled in the background (their CPU time stops growing); 0 to call at once.
WARM_COMPARE = """
import os, time
from autograd_cli import compare
from autograd_cli.execution.warm import default_session
compare("2*x**3+4*x**2+5*x+6", at=0.5, backends="{backends}")

def cpu():
    total = 0
    for pid in default_session().pids.values():
        with open(f"/proc/{{pid}}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")

waited = time.perf_counter()
if {settle}:
    before = cpu()
    while time.perf_counter() - waited < 600:
        time.sleep(2)
        now = cpu()
        if now - before < 0.05:
            break
        before = now
waited = time.perf_counter() - waited
started = time.perf_counter()
compare("{second}", at=[0.3, 1.7], dtype="float64", order=2, backends="{backends}")
print(waited)
print(time.perf_counter() - started)
"""
FIVE = "analytic,torch,tensorflow,jax,finite-diff"
#: The second call's expression, and another for a later process (JAX's cache kept).
SECOND = "sin(x)*exp(x)"
OTHER = "tanh(x)*log(x) + x**3"


def warm_seconds(script: list[str], cache: str | None = None) -> tuple[float, float]:
    """The wait for the background compiling and the second compare() call's wall
    time, as the script measures them; ``cache``: the folder the session's JAX keeps
    compiled ops in (XDG_CACHE_HOME; a fresh one unless given)."""
    with tempfile.TemporaryDirectory() as fresh:
        env = {**os.environ, "XDG_CACHE_HOME": cache or fresh}
        env.pop("GRADCHECK_JAX_CACHE", None)
        result = subprocess.run(script, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"warm compare() failed: {result.stderr[-2000:]}")
    waited, seconds = result.stdout.strip().splitlines()[-2:]
    return float(waited), float(seconds)


def timed(command: list[str], expected: tuple[int, ...] = (0, 1)) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode not in expected:
        sys.exit(f"benchmark command failed ({result.returncode}): {' '.join(command)}\n"
                 f"{result.stderr[-2000:]}")
    return elapsed


def peak_rss_mib(command: list[str]) -> float:
    """Peak resident memory of the command's largest process (children included)."""
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    for line in result.stderr.splitlines():
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sweep-points", type=int, default=1_000_000)
    args = parser.parse_args()
    os.environ["GRADCHECK_SERVICE"] = "0"  # cold figures: no background service (see service.py)
    os.environ["GRADCHECK_WARMUP"] = "1"  # compare(): as outside CI, whatever runs this
    env_note = os.environ.get("OPENBLAS_CORETYPE")
    with tempfile.TemporaryDirectory() as folder:
        scripts = {}
        sources = {"tf_only": TF_ONLY, "tutorial": TUTORIAL, "bare_sweep": BARE_SWEEP,
                   "warm_compare": WARM_COMPARE.format(backends=THREE, settle=0, second=SECOND),
                   "warm_compare_five_now": WARM_COMPARE.format(backends=FIVE, settle=0,
                                                                second=SECOND),
                   "warm_compare_five": WARM_COMPARE.format(backends=FIVE, settle=1,
                                                            second=SECOND),
                   "warm_compare_five_other": WARM_COMPARE.format(backends=FIVE, settle=0,
                                                                  second=OTHER)}
        for name, text in sources.items():
            path = Path(folder) / f"{name}.py"
            path.write_text(text)
            scripts[name] = [PYTHON, str(path)]
        commands = {
            "plain TF script (import + one GradientTape)": scripts["tf_only"],
            "tutorial script (torch, then TF)": scripts["tutorial"],
            "gradcheck --at 0.5 (analytic, torch, TF)": [
                GRADCHECK, EXPRESSION, "--at", "0.5", "--backends", THREE,
            ],
            "plain sweep script (torch + TF, 10^6 points)": scripts["bare_sweep"],
            f"gradcheck --range -4 4 --num {args.sweep_points}": [
                GRADCHECK, EXPRESSION, "--range", "-4", "4", "--num", str(args.sweep_points),
                "--backends", THREE,
            ],
            "gradcheck 10^6 sweep --format json -o": [
                GRADCHECK, EXPRESSION, "--range", "-4", "4", "--num", str(args.sweep_points),
                "--backends", THREE, "--format", "json", "-o", str(Path(folder) / "s.json"),
            ],
            "gradcheck 10^6 sweep --format csv -o": [
                GRADCHECK, EXPRESSION, "--range", "-4", "4", "--num", str(args.sweep_points),
                "--backends", THREE, "--format", "csv", "-o", str(Path(folder) / "s.csv"),
            ],
            "gradcheck --help": [GRADCHECK, "--help"],
            "gradcheck backends": [GRADCHECK, "backends"],
            "gradcheck with a parse error": [GRADCHECK, "2x+1", "--at", "1"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for round_number in range(args.rounds):
            print(f"round {round_number + 1}/{args.rounds} ...", file=sys.stderr)
            for name, command in commands.items():
                expected = (2,) if "parse error" in name else (0, 1)
                times[name].append(timed(command, expected))
        median = {name: statistics.median(values) for name, values in times.items()}
        warm = statistics.median(warm_seconds(scripts["warm_compare"])[1]
                                 for _ in range(args.rounds))
        warm_five_now = statistics.median(warm_seconds(scripts["warm_compare_five_now"])[1]
                                          for _ in range(args.rounds))
        settled, cached = [], []
        for _ in range(args.rounds):  # then a later process, with another second call,
            with tempfile.TemporaryDirectory() as cache:  # finds JAX's cache kept
                settled.append(warm_seconds(scripts["warm_compare_five"], cache))
                cached.append(warm_seconds(scripts["warm_compare_five_other"], cache)[1])
        warm_five_cached = statistics.median(cached)
        warm_five = statistics.median(seconds for _, seconds in settled)
        compiling = statistics.median(waited for waited, _ in settled)
        # the main process alone (no workers): what streaming CSV costs in memory
        memory = {fmt: peak_rss_mib([GRADCHECK, EXPRESSION, "--range", "-4", "4", "--num",
                                     str(args.sweep_points), "--backends", "analytic",
                                     "--format", fmt, "-o", str(Path(folder) / f"m.{fmt}")])
                  for fmt in ("json", "csv")}

    width = max(len(name) for name in median) + 2
    print(f"{'command':<{width}} {'median s':>9}  (rounds: {args.rounds}, cold processes)")
    for name, value in median.items():
        print(f"{name:<{width}} {value:9.2f}")
    tf_only = median["plain TF script (import + one GradientTape)"]
    point = median["gradcheck --at 0.5 (analytic, torch, TF)"]
    sweep = median[f"gradcheck --range -4 4 --num {args.sweep_points}"]
    print()
    print("ratio                                              measured  target")
    print(f"gradcheck point / plain TF script                  {point / tf_only:8.2f}  <= 1.10")
    print(f"tutorial script / plain TF script                  "
          f"{median['tutorial script (torch, then TF)'] / tf_only:8.2f}  (about 1.4)")
    print(f"gradcheck 10^6 sweep / gradcheck point             {sweep / point:8.2f}  <= 1.30")
    print(f"gradcheck 10^6 sweep / plain sweep script          "
          f"{sweep / median['plain sweep script (torch + TF, 10^6 points)']:8.2f}")
    csv, json = (median[f"gradcheck 10^6 sweep --format {fmt} -o"] for fmt in ("csv", "json"))
    print(f"gradcheck 10^6 sweep, CSV / JSON (-o file)         {csv / json:8.2f}  <= 2.00")
    print(f"main process peak MiB, 10^6 CSV / JSON (analytic)  "
          f"{memory['csv']:4.0f} / {memory['json']:4.0f}  <= 600")
    print(f"warm compare() repeat (s), analytic + torch + TF   {warm:8.2f}  <= 0.30")
    print(f"warm compare() repeat / gradcheck point            {warm / point:8.2f}  <= 0.08")
    print(f"warm compare() repeat (s), all five backends       {warm_five:8.2f}  <= 0.30")
    print(f"  (after the workers' background compiling, {compiling:.0f} s; called at once: "
          f"{warm_five_now:.2f} s;")
    print(f"   at once in a later process, another expression, JAX's cache kept: "
          f"{warm_five_cached:.2f} s)")
    for name in ("gradcheck --help", "gradcheck backends", "gradcheck with a parse error"):
        print(f"{name + ' (s)':<50} {median[name]:8.2f}  <= 0.50")
    if env_note:
        print(f"\nnote: OPENBLAS_CORETYPE={env_note} is set on this machine", file=sys.stderr)


if __name__ == "__main__":
    main()
