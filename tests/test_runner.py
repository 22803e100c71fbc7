"""The runner: every backend in its own process, every failure a row, nothing left behind."""

from __future__ import annotations

import gc
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from processes import alive

from autograd_cli.backends import REGISTRY
from autograd_cli.core.model import BackendResult, Request
from autograd_cli.execution import runner
from autograd_cli.expr.nodes import Binary, Num, Span, Var

# a top-level module under pytest's default rootdir handling, tests.fake_backends if tests/
# ever becomes a package; workers import it by the same name through the inherited sys.path
fake_backends = importlib.import_module(
    f"{__package__}.fake_backends" if __package__ else "fake_backends"
)

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FAKES_MODULE = fake_backends.__name__
SHM = Path("/dev/shm")

X = Var("x", Span(0, 1))


def request(points: Any, *, dtype: str = "float32", timeout: float = 60.0) -> Request:
    return Request(
        "x**2", Binary("pow", X, Num(Fraction(2), "2", Span(3, 4)), Span(0, 4)), ("x",),
        {"x": np.asarray(points, dtype=np.float64)}, ("x",), dtype, (), timeout,
    )


def blocks(pid: int) -> list[str]:
    """Our shared-memory blocks that the process ``pid`` made and did not unlink."""
    if not SHM.is_dir():
        return []
    return sorted(p.name for p in SHM.iterdir() if p.name.startswith(f"gradcheck_{pid}_"))


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Registers the fake backends; they leave their pids (and more) in the folder."""
    for name, cls in fake_backends.FAKES.items():
        monkeypatch.setitem(REGISTRY, name, f"{FAKES_MODULE}:{cls.__name__}")
    folder = tmp_path / "notes"
    folder.mkdir()
    monkeypatch.setenv("FAKE_BACKENDS_DIR", str(folder))
    yield folder
    assert blocks(os.getpid()) == [], "a shared memory block outlived its run"


def by_name(rows: list[BackendResult]) -> dict[str, BackendResult]:
    return {row.backend: row for row in rows}


def test_every_failure_is_a_row_and_the_healthy_rows_are_exact(notes: Path) -> None:
    points = np.linspace(-3, 3, 101)
    names = [
        "fake_square", "fake_segfault", "fake_abort", "fake_exit", "fake_raise",
        "fake_missing", "fake_broken_import", "no_such_backend", "fake_echo",
    ]
    rows = runner.start(request(points), names).results()

    assert [row.backend for row in rows] == names
    got = by_name(rows)
    x = points.astype(np.float32)
    square = got["fake_square"]
    assert (square.status, square.dtype, square.method, square.reason) == (
        "ok", "float32", "numpy", None,
    )
    assert square.values is not None and square.values.dtype == np.float32
    np.testing.assert_array_equal(square.values, x * x)
    np.testing.assert_array_equal(square.derivatives["x"], 2 * x)
    assert square.seconds > 0
    echo = got["fake_echo"]
    assert echo.values is not None
    np.testing.assert_array_equal(echo.values, x)

    expected = {
        "fake_segfault": ("crashed", "killed by SIGSEGV"),
        "fake_abort": ("crashed", "killed by SIGABRT"),
        "fake_exit": ("crashed", "exited with code 3"),
        "fake_raise": ("error", "ValueError: the fake backend refuses"),
        "fake_missing": (
            "unavailable",
            "no_such_framework_gradcheck is not installed (pip install no-such-framework)",
        ),
        "fake_broken_import": ("unavailable", "No module named 'no_such_framework_gradcheck'"),
        "no_such_backend": ("unavailable", "unknown backend 'no_such_backend'"),
    }
    assert {name: (got[name].status, got[name].reason) for name in expected} == expected
    for name in expected:
        assert got[name].values is None and got[name].derivatives == {}
        assert got[name].dtype == "float32"
    assert got["fake_segfault"].method == "numpy"  # the class's, when no answer came
    assert not (notes / "fake_missing.pid").exists(), "an uninstalled backend was spawned"


def test_a_hung_backend_times_out_and_is_killed_with_its_children(notes: Path) -> None:
    began = time.monotonic()
    rows = runner.start(request([0.5, 1.5], timeout=2.0), ["fake_hang", "fake_square"]).results()
    took = time.monotonic() - began

    hang, square = rows
    assert (hang.status, hang.reason) == ("timeout", "no answer within 2.0 s")
    assert square.status == "ok" and square.values is not None
    np.testing.assert_array_equal(square.values, np.array([0.25, 2.25], np.float32))
    assert took < 10.0
    worker_pid = int((notes / "fake_hang.pid").read_text())
    child_pid = int((notes / "fake_hang.child").read_text())
    assert gone(worker_pid), "the hung worker is still running"
    assert gone(child_pid), "the hung worker's child is still running"


def test_rows_come_in_the_order_asked_and_each_once_as_it_arrives(notes: Path) -> None:
    names = ["fake_raise", "fake_square", "fake_inprocess", "fake_missing", "fake_echo"]
    seen: list[str] = []
    rows = runner.start(request([1.0]), names).results(lambda row: seen.append(row.backend))

    assert [row.backend for row in rows] == names
    assert sorted(seen) == sorted(names)
    # what needs no worker is known first: the uninstalled one, then the in-process one
    assert seen[:2] == ["fake_missing", "fake_inprocess"]


def test_jobs_one_still_gives_every_row(notes: Path) -> None:
    names = ["fake_square", "fake_segfault", "fake_raise", "fake_echo"]
    rows = runner.start(request([2.0]), names, jobs=1).results()

    assert [(row.backend, row.status) for row in rows] == [
        ("fake_square", "ok"), ("fake_segfault", "crashed"), ("fake_raise", "error"),
        ("fake_echo", "ok"),
    ]
    assert rows[0].values is not None and rows[0].values.tolist() == [4.0]
    with pytest.raises(ValueError, match="jobs"):
        runner.start(request([2.0]), names, jobs=0)


def test_isolate_false_runs_every_backend_in_this_process(notes: Path) -> None:
    rows = runner.start(
        request([1.0, 3.0]), ["fake_square", "fake_raise"], isolate=False
    ).results()

    square, failing = rows
    assert square.status == "ok" and square.values is not None
    np.testing.assert_array_equal(square.derivatives["x"], np.array([2.0, 6.0], np.float32))
    assert (failing.status, failing.reason) == ("error", "ValueError: the fake backend refuses")
    assert int((notes / "fake_square.pid").read_text()) == os.getpid()


def test_a_backend_that_is_not_isolated_runs_here_and_the_rest_in_workers(notes: Path) -> None:
    rows = runner.start(request([1.0]), ["fake_inprocess", "fake_square"]).results()

    assert [row.status for row in rows] == ["ok", "ok"]
    assert int((notes / "fake_inprocess.pid").read_text()) == os.getpid()
    assert int((notes / "fake_square.pid").read_text()) != os.getpid()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_million_points_round_trip_exactly_through_shared_memory(
    notes: Path, dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    points = np.random.default_rng(7).standard_normal(1_000_000) * 1e3
    echo, = runner.start(request(points, dtype=dtype), ["fake_echo"]).results()

    assert echo.status == "ok" and echo.values is not None
    assert echo.values.dtype == np.dtype(dtype) and echo.values.shape == (1_000_000,)
    assert np.array_equal(echo.values, points.astype(dtype))
    assert np.array_equal(echo.derivatives["x"], np.ones(1_000_000, dtype))
    assert not echo.values.flags.owndata, "the answer was copied out of shared memory"

    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    del echo
    gc.collect()
    assert unraisable == [], "releasing the mapping raised"


def test_without_room_in_shared_memory_the_arrays_go_through_the_pipe(
    notes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "room_for", lambda nbytes: False)
    points = np.random.default_rng(3).standard_normal(5_000)
    rows = runner.start(request(points), ["fake_echo", "fake_square"]).results()

    echo, square = rows
    assert echo.values is not None and square.values is not None
    assert np.array_equal(echo.values, points.astype(np.float32))
    x = points.astype(np.float32)
    assert np.array_equal(square.derivatives["x"], 2 * x)


def test_an_answer_wider_than_its_slot_still_arrives(notes: Path) -> None:
    wide, = runner.start(request([0.1, 3.0]), ["fake_float64"]).results()

    assert wide.status == "ok" and wide.dtype == "float64" and wide.values is not None
    x = np.array([0.1, 3.0], np.float32).astype(np.float64)
    assert wide.values.dtype == np.float64
    assert np.array_equal(wide.values, x * x)


@pytest.mark.parametrize("verbose", [False, True])
def test_a_worker_never_writes_to_stdout(
    notes: Path, capfd: pytest.CaptureFixture[str], verbose: bool
) -> None:
    chatty, = runner.start(request([1.0]), ["fake_chatty"], verbose=verbose).results()

    assert chatty.status == "ok"
    out, err = capfd.readouterr()
    assert out == ""
    for line in ("CHATTY-PRINT", "CHATTY-FD1", "CHATTY-FD2"):
        assert (line in err) == verbose


def test_a_worker_imports_no_framework_and_not_the_parents_main(notes: Path) -> None:
    row, = runner.start(request([1.0]), ["fake_modules"]).results()

    assert row.status == "ok"
    modules = set((notes / "fake_modules.modules").read_text().split())
    assert "numpy" in modules and "autograd_cli.execution.worker" in modules
    heavy = {"torch", "tensorflow", "jax", "sympy", "matplotlib", "click", "rich", "_pytest"}
    assert modules & heavy == set()


def run_script(tmp_path: Path, body: str, **popen: Any) -> subprocess.Popen[str]:
    """A fresh Python process with the fakes registered, so that what it prints at exit
    (resource tracker warnings) and what it leaves behind can be checked."""
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, os, sys, time
            sys.path.insert(0, {str(TESTS)!r})
            import numpy as np
            import fake_backends
            from autograd_cli.execution import runner
            from autograd_cli.backends import REGISTRY
            from autograd_cli.core.model import Request
            from autograd_cli.expr.nodes import Span, Var
            for name, cls in fake_backends.FAKES.items():
                REGISTRY[name] = "fake_backends:" + cls.__name__
            X = Var("x", Span(0, 1))
            def request(timeout):
                return Request("x", X, ("x",), {{"x": np.arange(1000.0)}}, ("x",),
                               timeout=timeout)
            """
        )
        + textwrap.dedent(body)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAKE_BACKENDS_DIR": str(tmp_path)}
    return subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, **popen,
    )


def wait_for(path: Path, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)
    time.sleep(0.05)


def test_no_block_and_no_leak_warning_left_by_any_outcome(tmp_path: Path) -> None:
    process = run_script(tmp_path, """
        names = ["fake_square", "fake_segfault", "fake_hang", "fake_raise", "fake_echo"]
        rows = runner.start(request(2.0), names).results()
        print(json.dumps([row.status for row in rows]))
    """)
    out, err = process.communicate(timeout=60)

    assert process.returncode == 0, err
    assert json.loads(out) == ["ok", "crashed", "timeout", "error", "ok"]
    assert "leaked" not in err and "resource_tracker" not in err and "Traceback" not in err
    assert blocks(process.pid) == []
    assert gone(int((tmp_path / "fake_hang.pid").read_text()))
    assert gone(int((tmp_path / "fake_hang.child").read_text()))


def test_ctrl_c_while_waiting_kills_the_workers_and_frees_the_memory(tmp_path: Path) -> None:
    process = run_script(tmp_path, """
        run = runner.start(request(60.0), ["fake_hang", "fake_square"])
        try:
            run.results()
        except KeyboardInterrupt:
            print("interrupted")
            sys.exit(130)
    """)
    wait_for(tmp_path / "fake_hang.pid")
    os.kill(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=30)

    assert (process.returncode, out.strip()) == (130, "interrupted"), err
    assert "leaked" not in err and "Traceback" not in err
    assert blocks(process.pid) == []
    assert gone(int((tmp_path / "fake_hang.pid").read_text()))
    assert gone(int((tmp_path / "fake_hang.child").read_text()))


def test_an_interrupt_before_results_still_cleans_up_at_exit(tmp_path: Path) -> None:
    process = run_script(tmp_path, """
        run = runner.start(request(60.0), ["fake_hang"])
        while not os.path.exists(os.path.join(os.environ["FAKE_BACKENDS_DIR"], "fake_hang.pid")):
            time.sleep(0.05)
        raise KeyboardInterrupt  # the caller was computing the reference
    """)
    _, err = process.communicate(timeout=30)

    assert process.returncode != 0 and "KeyboardInterrupt" in err
    assert "leaked" not in err
    assert blocks(process.pid) == []
    assert gone(int((tmp_path / "fake_hang.pid").read_text()))
    assert gone(int((tmp_path / "fake_hang.child").read_text()))


frameworks_ready = all(
    importlib.util.find_spec(module) is not None
    for module in ("torch", "tensorflow", "autograd_cli.backends.torch",
                   "autograd_cli.backends.tensorflow")
)


@pytest.mark.slow
@pytest.mark.skipif(not frameworks_ready, reason="needs torch, tensorflow and their backends")
def test_real_torch_and_tensorflow_agree_on_the_tutorial_and_stay_out_of_this_process(
    tmp_path: Path,
) -> None:
    script = tmp_path / "tutorial.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(TESTS)!r})
        import numpy as np
        from fake_backends import tutorial_polynomial
        from autograd_cli.execution import runner
        from autograd_cli.core.model import Request
        request = Request("2*x**3+4*x**2+5*x+6", tutorial_polynomial(), ("x",),
                          {{"x": np.array([0.5])}}, ("x",), "float32", ("torch", "tensorflow"))
        rows = runner.start(request, ["torch", "tensorflow"]).results()
        print(json.dumps({{
            "rows": [[r.backend, r.status, r.reason, r.dtype,
                      None if r.values is None else r.values.tolist(),
                      {{k: v.tolist() for k, v in r.derivatives.items()}}] for r in rows],
            "imported": sorted(m for m in ("torch", "tensorflow") if m in sys.modules),
        }}))
    """))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["imported"] == [], "the parent imported a framework"
    assert answer["rows"] == [
        ["torch", "ok", None, "float32", [9.75], {"x": [10.5]}],
        ["tensorflow", "ok", None, "float32", [9.75], {"x": [10.5]}],
    ]
    assert "leaked" not in done.stderr


# --- persistent workers: runner.Pool --------------------------------------------------


def pid_note(notes: Path, name: str) -> int:
    return int((notes / f"{name}.pid").read_text())


def test_start_ends_its_workers_with_the_run(notes: Path) -> None:
    rows = runner.start(request([2.0]), ["fake_square", "fake_square"]).results()

    assert [(row.backend, row.status) for row in rows] == [("fake_square", "ok")] * 2
    assert rows[0].values is not None and rows[0].values.tolist() == [4.0]
    assert gone(pid_note(notes, "fake_square")), "a one-shot run left its worker running"


def test_a_pool_reuses_one_worker_per_backend_and_each_sees_its_own_points(
    notes: Path,
) -> None:
    rng = np.random.default_rng(11)
    with runner.Pool(["fake_echo", "fake_square"]) as pool:
        pids = []
        square_pids = set()
        for size in (10, 100_000, 3):
            points = rng.standard_normal(size)
            echo, square = pool.submit(request(points)).results()
            x = points.astype(np.float32)
            assert echo.values is not None and np.array_equal(echo.values, x)
            assert square.values is not None and np.array_equal(square.derivatives["x"], 2 * x)
            pids.append(pool.pids)
            square_pids.add(pid_note(notes, "fake_square"))
        assert pool.spawns == {"fake_echo": 1, "fake_square": 1}
        assert pids[0] == pids[1] == pids[2] and set(pids[0]) == {"fake_echo", "fake_square"}
        assert square_pids == {pids[0]["fake_square"]} and os.getpid() not in square_pids
    assert pool.pids == {}
    assert all(gone(pid) for pid in pids[0].values())


def test_a_hung_worker_times_out_and_a_fresh_one_answers_the_next_submission(
    notes: Path,
) -> None:
    with runner.Pool(["fake_moody", "fake_square"]) as pool:
        moody, square = pool.submit(request([-1.0, 2.0], timeout=2.0)).results()
        assert (moody.status, moody.reason) == ("timeout", "no answer within 2.0 s")
        assert square.status == "ok"
        hung, child = pid_note(notes, "fake_moody"), int((notes / "fake_moody.child").read_text())
        assert gone(hung) and gone(child), "the hung worker or its child is still running"
        square_pid = pool.pids["fake_square"]

        moody, square = pool.submit(request([3.0, 2.0], timeout=60.0)).results()
        assert moody.status == "ok" and moody.values is not None
        assert moody.values.tolist() == [9.0, 4.0]
        assert pid_note(notes, "fake_moody") not in (hung, os.getpid())
        assert pool.pids["fake_square"] == square_pid
        assert pool.spawns == {"fake_moody": 2, "fake_square": 1}


def test_a_crash_costs_its_worker_and_an_exception_does_not(notes: Path) -> None:
    with runner.Pool(["fake_moody"]) as pool:
        statuses = []
        pids = []
        for first in (-2.0, 5.0, -3.0, 6.0):
            row, = pool.submit(request([first])).results()
            statuses.append((row.status, row.reason))
            pids.append(pool.pids.get("fake_moody"))
        assert statuses == [
            ("crashed", "killed by SIGSEGV"), ("ok", None),
            ("error", "ValueError: moody refuses"), ("ok", None),
        ]
        assert row.values is not None and row.values.tolist() == [36.0]
        assert pids[0] is None and pids[1] == pids[2] == pids[3] is not None
        assert pool.spawns == {"fake_moody": 2}


def test_a_worker_that_died_while_idle_is_replaced_without_a_failed_row(notes: Path) -> None:
    with runner.Pool(["fake_square"]) as pool:
        pool.submit(request([1.0])).results()
        first = pool.pids["fake_square"]
        os.kill(first, signal.SIGKILL)
        # Wait until every thread of it is gone (a 'Z' leader may still have threads
        # exiting, and then neither waitpid nor the pipe shows the death yet); WNOWAIT
        # leaves the reaping to the pool.
        os.waitid(os.P_PID, first, os.WEXITED | os.WNOWAIT)

        row, = pool.submit(request([4.0])).results()
        assert row.status == "ok" and row.values is not None and row.values.tolist() == [16.0]
        assert pool.spawns == {"fake_square": 2} and pool.pids["fake_square"] != first


def test_unavailable_backends_stay_unavailable_and_are_not_spawned_again(notes: Path) -> None:
    names = ["fake_missing", "fake_broken_import", "no_such_backend", "fake_square"]
    with runner.Pool(names) as pool:
        for _ in range(3):
            rows = pool.submit(request([1.0])).results()
            assert [(row.status, row.reason) for row in rows] == [
                ("unavailable",
                 "no_such_framework_gradcheck is not installed (pip install no-such-framework)"),
                ("unavailable", "No module named 'no_such_framework_gradcheck'"),
                ("unavailable", "unknown backend 'no_such_backend'"),
                ("ok", None),
            ]
        assert pool.spawns == {"fake_broken_import": 1, "fake_square": 1}
        assert set(pool.pids) == {"fake_square"}, "a worker without its framework lingers"
    assert not (notes / "fake_missing.pid").exists()


def test_one_submission_at_a_time(notes: Path) -> None:
    with runner.Pool(["fake_square", "fake_echo"]) as pool:
        run = pool.submit(request([2.0]))
        with pytest.raises(RuntimeError, match="still in flight"):
            pool.submit(request([3.0]))
        assert [row.status for row in run.results()] == ["ok", "ok"]

        echo, = pool.submit(request([3.0]), ["fake_echo"]).results()  # a subset, in order
        assert echo.backend == "fake_echo" and echo.values is not None
        assert echo.values.tolist() == [3.0]

        dropped = pool.submit(request([4.0]))
        del dropped
        gc.collect()
        square, _ = pool.submit(request([5.0])).results()
        assert square.values is not None and square.values.tolist() == [25.0]
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(request([1.0]))


def test_closing_a_pool_mid_submission_kills_everything_and_frees_the_memory(
    notes: Path,
) -> None:
    pool = runner.Pool(["fake_square", "fake_hang"])
    pool.submit(request([1.0], timeout=2.0), ["fake_square"]).results()
    square = pool.pids["fake_square"]
    run = pool.submit(request(np.arange(1000.0), timeout=60.0))
    wait_for(notes / "fake_hang.child")
    assert blocks(os.getpid()) != []
    pool.close()

    assert blocks(os.getpid()) == []
    with pytest.raises(RuntimeError, match="closed before its results"):
        run.results()
    for pid in (square, pid_note(notes, "fake_hang"), int((notes / "fake_hang.child").read_text())):
        assert gone(pid)
    pool.close()  # again: nothing left to do


def test_a_pool_honours_jobs_and_isolate(notes: Path) -> None:
    with runner.Pool(["fake_square", "fake_moody"], jobs=1) as pool:
        for first in (2.0, 3.0):
            rows = pool.submit(request([first])).results()
            assert [row.values.tolist() for row in rows if row.values is not None] == [
                [first * first]] * 2
        assert pool.spawns == {"fake_square": 1, "fake_moody": 1}
    with runner.Pool(["fake_square", "fake_broken_import"], isolate=False) as pool:
        for _ in range(2):
            square, broken = pool.submit(request([3.0])).results()
            assert square.values is not None and square.values.tolist() == [9.0]
            assert broken.status == "unavailable"
        assert pool.spawns == {} and pid_note(notes, "fake_square") == os.getpid()


def test_a_backend_that_keeps_views_of_its_inputs_still_gets_fresh_points(notes: Path) -> None:
    with runner.Pool(["fake_hoard"]) as pool:
        for first in (1.0, 2.0, 3.0):
            row, = pool.submit(request([first, -first])).results()
            assert row.values is not None and row.values.tolist() == [first**2] * 2
        assert pool.spawns == {"fake_hoard": 1}


def test_ctrl_c_during_a_pool_submission_ends_every_worker(tmp_path: Path) -> None:
    process = run_script(tmp_path, """
        with runner.Pool(["fake_square", "fake_hang"]) as pool:
            pool.submit(request(60.0), ["fake_square"]).results()
            print(pool.pids["fake_square"], flush=True)
            try:
                pool.submit(request(60.0)).results()
            except KeyboardInterrupt:
                print("interrupted")
                sys.exit(130)
    """)
    wait_for(tmp_path / "fake_hang.child")
    os.kill(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=30)

    square, said = out.split()
    assert (process.returncode, said) == (130, "interrupted"), err
    assert "leaked" not in err and "Traceback" not in err
    assert blocks(process.pid) == []
    for pid in (int(square), int((tmp_path / "fake_hang.pid").read_text()),
                int((tmp_path / "fake_hang.child").read_text())):
        assert gone(pid)


@pytest.mark.slow
@pytest.mark.skipif(not frameworks_ready, reason="needs torch and its backend")
def test_a_pool_imports_torch_once_for_three_submissions(notes: Path) -> None:
    # 6x**2 + 8x + 5, exact in float32 at these points
    cases = {0.5: 10.5, 1.0: 19.0, -2.0: 13.0}
    with runner.Pool(["torch"]) as pool:
        rows = []
        pids = []
        for x, slope in cases.items():
            req = Request("2*x**3+4*x**2+5*x+6", fake_backends.tutorial_polynomial(), ("x",),
                          {"x": np.array([x, x])}, ("x",), "float32", ("torch",))
            row, = pool.submit(req).results()
            assert (row.status, row.reason) == ("ok", None)
            assert row.derivatives["x"].tolist() == [slope, slope]
            rows.append(row)
            pids.append(pool.pids["torch"])
        assert pool.spawns == {"torch": 1} and pids[0] == pids[1] == pids[2]
        assert pool.import_seconds["torch"] > 0
        assert rows[0].seconds >= pool.import_seconds["torch"]  # the first row pays the import
