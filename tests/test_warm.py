"""Warm workers in a Python process ([5/7], the Python part): ``compare()`` and a
``Session`` keep each framework's worker between calls; a crashed worker is replaced,
an interrupted call leaves nothing in flight, closing ends every worker."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from autograd_cli import Session, compare
from autograd_cli.execution.warm import default_session

TUTORIAL = "2*x**3+4*x**2+5*x+6"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:  # a zombie is gone
        return stat.read().split()[2] != "Z"


def test_a_session_keeps_the_workers_between_calls() -> None:
    with Session() as session:
        first = session.compare(TUTORIAL, at=0.5, backends="analytic,torch")
        assert first.ok and [row.derivative for row in first.rows] == [10.5, 10.5]
        pids = session.pids
        assert set(pids) == {"torch"}
        started = time.perf_counter()
        second = session.compare("sin(x)", at=[1.0, 2.0], dtype="float64", order=2,
                                 backends="analytic,torch")
        seconds = time.perf_counter() - started
        print(f"warm second call: {seconds:.3f} s")
        assert session.pids == pids  # the same worker, not a new one
        assert second.ok and len(second.rows) == 4
        assert second.rows[1].derivative == pytest.approx(-0.8414709848078965, rel=1e-15)
    assert session.pids == {}
    assert not alive(pids["torch"])
    with pytest.raises(RuntimeError, match="closed"):
        session.compare(TUTORIAL, at=0.5, backends="analytic")


def test_compare_uses_one_warm_pool_per_process() -> None:
    compare(TUTORIAL, at=0.5, backends="analytic,torch")
    pids = default_session().pids
    report = compare("x**2", at=3, backends="analytic,torch", dtype="float64")
    assert report.ok and default_session().pids == pids


def test_a_crashed_worker_is_replaced_and_the_others_stay(monkeypatch) -> None:
    from autograd_cli.backends import REGISTRY

    monkeypatch.setitem(REGISTRY, "segv", "tests.fake_backends:Segfault")
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent))
    with Session() as session:
        one = session.compare("x**2", at=3, backends="analytic,torch,segv")
        assert [row.status for row in one.rows] == ["ok", "ok", "crashed"]
        assert one.exit_code == 3
        torch = session.pids["torch"]
        two = session.compare("x**2", at=3, backends="analytic,torch,segv")
        assert [row.status for row in two.rows] == ["ok", "ok", "crashed"]
        assert session.pids["torch"] == torch


def test_bad_input_keeps_the_pool_and_isolate_false_needs_none() -> None:
    with Session() as session:
        session.compare(TUTORIAL, at=0.5, backends="analytic,torch")
        pids = session.pids
        with pytest.raises(ValueError):
            session.compare("2x", at=0.5, backends="analytic,torch")
        with pytest.raises(ValueError, match="session"):
            compare(TUTORIAL, at=0.5, session="warm")  # type: ignore[arg-type]
        assert session.pids == pids
        local = session.compare(TUTORIAL, at=0.5, backends="analytic,torch", isolate=False)
        assert local.ok and session.pids == pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_while_idle(session: Session, backend: str, seconds: float = 3.0) -> float:
    """CPU seconds ``backend``'s worker spends while no call runs."""
    pid = session.pids[backend]
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


def rows(report) -> list[tuple[str, str, float | None]]:
    return [(row.backend, row.status, row.derivative) for row in report.rows]


def test_idle_workers_compile_what_comes_next_and_answers_stay_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the warm-up on (as outside CI), JAX's idle worker compiles between calls and
    keeps what it compiled in the user's cache folder (0700), a call that arrives
    meanwhile gets the same bits as without it, and closing the session ends the worker
    mid-compile; with it off, an idle worker uses no CPU and writes no cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("GRADCHECK_JAX_CACHE", raising=False)
    cache = tmp_path / "gradcheck" / "jax-cache"
    backends = "analytic,jax"
    with Session(warm_up=False) as cold:
        cold.compare("x**2", at=0.5, backends=backends)
    assert not cache.exists()
    with Session(warm_up=True) as warm, Session(warm_up=False) as cold:
        first = warm.compare("sin(x)*exp(x)", at=0.5, backends=backends)
        assert rows(first) == rows(cold.compare("sin(x)*exp(x)", at=0.5, backends=backends))
        assert busy_while_idle(warm, "jax") > 0.3  # compiling the neighbouring settings
        # (from 1 s after the call: worker.WARM_PAUSE)
        assert busy_while_idle(cold, "jax") < 0.2
        for options in ({"dtype": "float64", "order": 2}, {"mode": "forward"},
                        {"dtype": "float64", "order": 3}):
            got = warm.compare("sin(x)*exp(x) + erf(x)", at=[0.3, 1.7], backends=backends,
                               **options)
            expected = cold.compare("sin(x)*exp(x) + erf(x)", at=[0.3, 1.7],
                                    backends=backends, **options)
            assert rows(got) == rows(expected) and got.ok
        pid = warm.pids["jax"]
        assert (cache.stat().st_mode & 0o777) == 0o700
        assert len(list(cache.iterdir())) > 10  # compiled ops, for the next process
    assert not alive(pid)


def test_a_cache_folder_that_cannot_be_trusted_is_not_used(tmp_path: Path) -> None:
    """The cache holds compiled code JAX runs: a folder others can write to, or a symlink,
    is refused (JAX then compiles as usual); a folder the user names is theirs."""
    from autograd_cli.execution.warm import jax_cache

    assert jax_cache({"XDG_CACHE_HOME": str(tmp_path)}) == str(tmp_path / "gradcheck" /
                                                                "jax-cache")
    shared = tmp_path / "shared"
    (shared / "gradcheck").mkdir(parents=True)
    (shared / "gradcheck").chmod(0o777)
    assert jax_cache({"XDG_CACHE_HOME": str(shared)}) is None
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "linked" / "gradcheck").mkdir(parents=True, mode=0o700)
    (tmp_path / "linked" / "gradcheck" / "jax-cache").symlink_to(elsewhere)
    assert jax_cache({"XDG_CACHE_HOME": str(tmp_path / "linked")}) is None
    assert jax_cache({"XDG_CACHE_HOME": str(tmp_path), "GRADCHECK_JAX_CACHE": "0"}) is None
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert jax_cache({"XDG_CACHE_HOME": str(blocked)}) is None


def test_the_warm_up_queue_puts_the_last_task_s_neighbours_first() -> None:
    from autograd_cli.execution import warmup
    from autograd_cli.expr.parser import parse

    queue = warmup.Idle("jax")
    task = warmup.Item("", parse("x*y"), ("x", "y"), ("x", "y"), "float32", "reverse")
    queue.answered(task)
    first = [queue.next() for _ in range(7)]
    assert all(item is not None and item.expr == task.expr for item in first)
    settings = {(i.dtype, i.mode, i.order) for i in first if i is not None}
    assert settings == {(d, m, o) for d in ("float32", "float64")
                        for m in ("reverse", "forward") for o in (1, 2)} - {
        ("float32", "reverse", 1)}
    changes = [(i.dtype != "float32") + (i.mode != "reverse") + (i.order != 1)
               for i in first if i is not None]
    assert changes == sorted(changes) and changes[:3] == [1, 1, 1]  # one change first
    assert next(i.wrt for i in first if i is not None and i.order == 2) == ("x,x", "y,y")
    rest = []
    while (item := queue.next()) is not None:
        rest.append(item)
    assert len(rest) == len(list(warmup.items()))  # every general item, once
    queue.answered(task)  # nothing new after the queue ran dry
    assert queue.next() is None
    assert warmup.Idle("analytic").next() is None  # nothing to compile there


@pytest.mark.parametrize(("env", "expected"), [
    ({}, True), ({"CI": "true"}, False), ({"CI": "true", "GRADCHECK_WARMUP": "1"}, True),
    ({"GRADCHECK_WARMUP": "off"}, False), ({"CI": "0"}, True),
])
def test_the_warm_up_is_on_outside_ci_unless_turned_off(env, expected) -> None:
    from autograd_cli.execution import warm

    assert warm.enabled(env) is expected
