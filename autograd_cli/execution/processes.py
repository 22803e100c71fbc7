"""Worker processes: spawned clean, killed with their children, never left behind.

Why its own module: how a worker is started (spawn, a bare ``__main__``), how it is
stopped (its whole process group), how its death is told, and the exit hook that gives
back every process and block a pool still holds are one job, apart from deciding which
backend computes what.
"""

from __future__ import annotations

import atexit
import math
import multiprocessing
import multiprocessing.util  # imported before our atexit hook registers, so ours runs first
import os
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from multiprocessing.shared_memory import SharedMemory

from autograd_cli.execution import worker
from autograd_cli.execution.plans import Plan
from autograd_cli.execution.shared_memory import discard

_SPAWN = multiprocessing.get_context("spawn")
_MAIN_LOCK = threading.Lock()


@dataclass
class Worker:
    """One backend's process. ``output`` and ``deadline`` belong to the submission it
    is computing for, if any."""

    plan: Plan
    process: SpawnProcess
    conn: Connection
    output: SharedMemory | None = None
    started: float = 0.0
    deadline: float = math.inf
    busy: bool = False

    def drop_output(self) -> None:
        if self.output is not None:
            discard(self.output)
            self.output = None

    def stop(self) -> None:
        """Kill (if still running), reap, and give back the pipe and the output block."""
        _terminate(self.process)
        self.conn.close()
        self.drop_output()

    def dead_or_confused(self) -> bool:
        """An idle worker that exited, or that has something to say nobody asked for."""
        try:
            return self.process.exitcode is not None or self.conn.poll()
        except (OSError, ValueError):
            return True


class Resources:
    """What a pool must give back in every outcome: worker processes and shared blocks.

    Kept apart from :class:`Pool` and :class:`Run` so finalizers (a pool or run dropped
    unfinished) and the exit hook (Ctrl-C between ``submit`` and ``results``) can
    release it without them.
    """

    def __init__(self) -> None:
        self.workers: dict[str, Worker] = {}
        self.inputs: SharedMemory | None = None
        self.submission: int | None = None  # the one in flight
        _OPEN.add(self)

    def end_submission(self, submission: int) -> None:
        """Free a submission's blocks and kill the workers still computing for it; the
        idle ones stay for the next submission. A no-op for a finished submission."""
        if self.submission != submission:
            return
        self.submission = None
        for name, w in list(self.workers.items()):
            if w.busy:
                w.stop()
                del self.workers[name]
            else:
                w.drop_output()
        if self.inputs is not None:
            discard(self.inputs)
            self.inputs = None

    def release(self) -> None:
        """Give back everything; each piece leaves the books only once it is given back,
        so a release cut short (a signal) is finished by the exit hook."""
        self.submission = None
        while self.workers:
            name, w = next(iter(self.workers.items()))
            w.stop()
            del self.workers[name]
        if self.inputs is not None:
            discard(self.inputs)
            self.inputs = None
        _OPEN.discard(self)


_OPEN: set[Resources] = set()


@atexit.register
def _release_all() -> None:
    """Runs before multiprocessing's own exit hook (registered earlier, runs later),
    which would otherwise only SIGTERM the workers and not their children."""
    for resources in list(_OPEN):
        resources.release()


def start_tracker() -> None:
    """Start multiprocessing's resource tracker (if not yet running) deaf to SIGHUP.

    It shares our process group, so a terminal that closes sends it SIGHUP with us; it
    ignores SIGINT and SIGTERM, but SIGHUP would kill it, and the blocks we then unlink
    while cleaning up would end in "process died unexpectedly" warnings and KeyError
    tracebacks from its successor. A signal blocked while it starts stays blocked in it
    (it unblocks only the two it ignores); here it is merely delayed until this returns.
    """
    from multiprocessing import resource_tracker

    hangup = getattr(signal, "SIGHUP", None)
    if hangup is None or not hasattr(signal, "pthread_sigmask"):
        resource_tracker.ensure_running()
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {hangup})
    try:
        resource_tracker.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


#: True while a worker is being started, and the signals that arrived meanwhile.
_STARTING: list[int] = []
_starting = False


def starting() -> bool:
    """Whether a worker is being started now. A signal handler that raises (the CLI's)
    should then :func:`hold` its signal instead: an exception inside ``start()`` leaves
    a child whose pid nobody knows, half-fed its start-up data (it dies printing an
    EOFError traceback)."""
    return _starting


def hold(signum: int) -> None:
    """A signal to raise again once the worker being started is ours to kill."""
    _STARTING.append(signum)


def spawn(plan: Plan, verbose: bool, warm: bool = False,
          environment: Mapping[str, str] | None = None) -> Worker:
    """A fresh worker process for ``plan``'s backend, started and holding its pipe;
    ``warm``: one that compiles its framework's ops between tasks (worker.main);
    ``environment``: variables it sets before loading its framework."""
    global _starting
    start_tracker()
    ours, theirs = _SPAWN.Pipe(duplex=True)
    process = _SPAWN.Process(
        target=worker.main, args=(theirs, verbose, warm, dict(environment or {})),
        name=f"gradcheck-{plan.name}", daemon=True,
    )
    _starting = True
    deaf = _deaf_to_interrupt()
    try:
        with _parent_main_hidden(not plan.target.startswith("__main__:")):
            process.start()
    except BaseException:
        ours.close()
        raise
    finally:
        deaf()
        _starting = False
        theirs.close()  # the worker's copy is the only one left, so EOF means death
    started = Worker(plan, process, ours)
    if _STARTING:
        signum = _STARTING[0]
        _STARTING.clear()
        try:
            signal.raise_signal(signum)  # its handler raises here, if it raises at all
        except BaseException:
            started.stop()
            raise
    return started


def _deaf_to_interrupt() -> Callable[[], None]:
    """Block SIGINT while a worker starts; the callable returned unblocks it here.

    The child inherits the mask through fork and exec, so a Ctrl-C sent to the whole
    process group while its interpreter is still starting (before ``worker.main``
    ignores SIGINT) waits instead of ending it with "Fatal Python error:
    init_sys_streams" and a KeyboardInterrupt traceback on the user's terminal. Our
    copy is delivered once the mask is restored; the worker's is discarded.
    """
    if not hasattr(signal, "pthread_sigmask"):
        return lambda: None
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    def restore() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)

    return restore


def death(exitcode: int | None) -> str:
    if exitcode is None:
        return "closed its pipe without an answer"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def _terminate(process: SpawnProcess) -> None:
    """SIGKILL the worker and everything it started, then reap it.

    The worker leads its own process group (surroundings.lead_process_group), so killing
    the group also ends its children. The group id is the worker's pid, which the
    kernel does not hand out again while that group has members.
    """
    try:
        pid = process.pid
    except ValueError:  # closed already: stopped by an earlier call
        return
    if pid is not None and hasattr(os, "killpg"):
        with suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    with suppress(OSError, ValueError, AttributeError):
        process.kill()  # a no-op once the process has been reaped
    with suppress(ValueError, AttributeError):
        process.join(timeout=10.0)
    with suppress(ValueError):
        process.close()


@contextmanager
def _parent_main_hidden(hide: bool) -> Iterator[None]:
    """Spawn re-runs the parent's ``__main__`` script in every child (so functions
    defined there unpickle). Our target lives in :mod:`autograd_cli.execution.worker`, so while
    launching we show spawn a bare ``__main__``: the worker then skips re-importing the
    CLI or pytest and imports only numpy, our package and its one framework. A backend
    defined in ``__main__`` itself keeps spawn's normal behaviour (``hide=False``).
    """
    if not hide:
        yield
        return
    with _MAIN_LOCK:
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = main
