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
