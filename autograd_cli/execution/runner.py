"""Run backends in isolated worker processes, in parallel, each under a timeout.

Why processes: importing TensorFlow takes seconds, frameworks sharing a process fight
(OpenMP, protobuf), and one framework's segfault or hang must not cost the other rows.
Each worker is a fresh interpreter (spawn, never fork); this process imports no
framework, only each backend class's metadata. Points reach the workers through one
shared-memory block and answers come back through one block per worker, so large
arrays are never pickled; the pipe carries only small metadata (:class:`worker.Reply`).
Every way a worker can fail becomes that backend's row, and every process and block is
given back in every outcome: answer, crash, timeout, Ctrl-C, interpreter exit.

Why a pool: a sweep evaluated in chunks, or a suite of dozens of cases, would pay each
framework's import once per request. A :class:`Pool` keeps one worker per backend
between submissions and replaces it only after it crashed or timed out; a backend that
cannot be imported is remembered as unavailable. :func:`start` is a pool of one
submission whose workers end with it.
"""

from __future__ import annotations

import atexit
import math
import multiprocessing
import multiprocessing.util  # imported before our atexit hook registers, so ours runs first
import os
import secrets
import signal
import sys
import threading
import time
import types
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from functools import partial
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnProcess
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np

from autograd_cli import backends as registry
from autograd_cli.core import dtypes
from autograd_cli.core.model import BackendResult, Request
from autograd_cli.core.statuses import RunStatus
from autograd_cli.execution import worker

#: Our shared-memory blocks are named ``gradcheck_<pid of the parent>_<random>``, so
#: leftovers can be traced to the process that made them.
BLOCK_PREFIX = "gradcheck_"

_SPAWN = multiprocessing.get_context("spawn")
_RESULT_FIELDS = frozenset(f.name for f in fields(BackendResult))
_MAIN_LOCK = threading.Lock()


def start(
    request: Request,
    backends: Sequence[str],
    *,
    jobs: int | None = None,
    isolate: bool = True,
    verbose: bool = False,
) -> Run:
    """Launch a worker per isolated backend and return at once; rows come from
    :meth:`Run.results`. ``jobs`` caps the workers computing at a time (default: all);
    ``isolate=False`` runs everything in this process, for debugging."""
    return Run(request, backends, jobs=jobs, isolate=isolate, verbose=verbose)


@dataclass(frozen=True)
class _Plan:
    """A backend that can run, with what the parent can know without its framework."""

    name: str
    target: str
    method: str
    version: str | None
    isolated: bool
    dtypes: tuple[str, ...]
    devices: tuple[str, ...] = ("cpu",)

    def device(self, request: Request) -> str:
        """Where it computes for ``request``: the CPU when it has no other device."""
        return request.device if request.device in self.devices else "cpu"


@dataclass(frozen=True)
class _Refusal:
    """Why a backend cannot run at all; a pool keeps it for its whole life."""

    status: RunStatus
    reason: str
    method: str = ""
    version: str | None = None

    def row(self, name: str, dtype: str, device: str = "cpu") -> BackendResult:
        return BackendResult(name, self.status, dtype, self.method, self.version,
                             reason=self.reason, device=device)


@dataclass
class _Worker:
    """One backend's process. ``output`` and ``deadline`` belong to the submission it
    is computing for, if any."""

    plan: _Plan
    process: SpawnProcess
    conn: Connection
    output: SharedMemory | None = None
    started: float = 0.0
    deadline: float = math.inf
    busy: bool = False

    def drop_output(self) -> None:
        if self.output is not None:
            _discard(self.output)
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


class _Resources:
    """What a pool must give back in every outcome: worker processes and shared blocks.

    Kept apart from :class:`Pool` and :class:`Run` so finalizers (a pool or run dropped
    unfinished) and the exit hook (Ctrl-C between ``submit`` and ``results``) can
    release it without them.
    """

    def __init__(self) -> None:
        self.workers: dict[str, _Worker] = {}
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
                del self.workers[name]
                w.stop()
            else:
                w.drop_output()
        if self.inputs is not None:
            _discard(self.inputs)
            self.inputs = None

    def release(self) -> None:
        _OPEN.discard(self)
        self.submission = None
        while self.workers:
            self.workers.popitem()[1].stop()
        if self.inputs is not None:
            _discard(self.inputs)
            self.inputs = None


_OPEN: set[_Resources] = set()


@atexit.register
def _release_all() -> None:
    """Runs before multiprocessing's own exit hook (registered earlier, runs later),
    which would otherwise only SIGTERM the workers and not their children."""
    for resources in list(_OPEN):
        resources.release()


class Pool:
    """Workers that outlive a request: each backend's framework loads once per pool.

    A worker is spawned on a backend's first submission and reused after; one that
    timed out or crashed is killed with its children, gives that submission its row,
    and is replaced at the next submission. One submission at a time: :meth:`submit`
    raises RuntimeError while the previous :class:`Run` is neither collected nor closed.
    """

    def __init__(
        self,
        backends: Sequence[str],
        *,
        jobs: int | None = None,
        isolate: bool = True,
        verbose: bool = False,
    ) -> None:
        if jobs is not None and jobs < 1:
            raise ValueError(f"jobs must be at least 1, not {jobs}")
        self.backends = tuple(backends)
        #: Workers each backend has started so far (a reused worker counts once).
        self.spawns: dict[str, int] = {}
        #: Seconds the latest worker of each backend took to import its framework;
        #: included in the ``seconds`` of the first row it computed.
        self.import_seconds: dict[str, float] = {}
        self._jobs = jobs
        self._isolate = isolate
        self._verbose = verbose
        self._one_shot = False
        self._closed = False
        self._plans: dict[str, _Plan | _Refusal] = {}
        self._submissions = 0
        self._current: weakref.ref[Run] | None = None
        self._resources = _Resources()
        self._finalizer = weakref.finalize(self, self._resources.release)
        self._finalizer.atexit = False  # _release_all covers exit, in the right order

    def submit(self, request: Request, backends: Sequence[str] | None = None) -> Run:
        """Start the pool's backends (or ``backends``, rows in that order: a suite's
        cases need not all ask for the same ones) on ``request`` and return at once;
        :meth:`Run.results` collects the rows."""
        run = Run.__new__(Run)
        self._attach(run, request, self.backends if backends is None else tuple(backends))
        return run

    @property
    def pids(self) -> dict[str, int]:
        """The process id of each backend's live worker."""
        return {
            name: w.process.pid
            for name, w in self._resources.workers.items()
            if w.process.pid is not None and w.process.exitcode is None
        }

    def close(self) -> None:
        """End every worker (a submission in flight is abandoned) and unlink every
        block; safe to call again."""
        self._closed = True
        current = self._current() if self._current is not None else None
        if current is not None:
            current.close()
        self._finalizer()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _attach(self, run: Run, request: Request, backends: tuple[str, ...]) -> None:
        if self._closed:
            raise RuntimeError("this pool is closed")
        current = self._current() if self._current is not None else None
        if current is not None and not current._closed:
            raise RuntimeError(
                "the previous submission is still in flight: collect its results() "
                "or close() it first"
            )
        self._submissions += 1
        self._current = weakref.ref(run)
        run._setup(self, request, backends, self._submissions)

    def _plan(self, name: str, dtype: str, device: str = "cpu") -> _Plan | BackendResult:
        """What this process knows about a backend without importing its framework; a
        backend that cannot run gets its row here, without spawning anything."""
        plan = self._plans.get(f"{name}@{device}") or self._plans.get(name)
        if plan is None:
            plan = self._plans[name] = _inspect(name)
        if isinstance(plan, _Refusal):
            return plan.row(name, dtype, device)
        if dtype not in plan.dtypes:
            reason = f"{name} does not compute in {dtype}"
            return BackendResult(name, "unavailable", dtype, plan.method, plan.version,
                                 reason=reason, device=device)
        return plan

    def _refuse(self, row: BackendResult) -> None:
        """Remember a backend whose framework failed to import, so it is not retried;
        one that could not reach a device (cuda) only for that device."""
        if row.status == "unavailable" and row.reason is not None:
            key = row.backend if row.device == "cpu" else f"{row.backend}@{row.device}"
            self._plans[key] = _Refusal("unavailable", row.reason, row.method,
                                                row.version)

    def _ready_worker(self, plan: _Plan) -> tuple[_Worker, bool]:
        """This backend's idle worker, or a fresh one (and True) if it has none or the
        one it had died while idle."""
        workers = self._resources.workers
        w = workers.get(plan.name)
        if w is not None and w.dead_or_confused():
            self._retire(w)
            w = None
        if w is not None:
            return w, False
        ours, theirs = _SPAWN.Pipe(duplex=True)
        process = _SPAWN.Process(
            target=worker.main, args=(theirs, self._verbose), name=f"gradcheck-{plan.name}",
            daemon=True,
        )
        try:
            with _parent_main_hidden(not plan.target.startswith("__main__:")):
                process.start()
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the worker's copy is the only one left, so EOF means death
        self.spawns[plan.name] = self.spawns.get(plan.name, 0) + 1
        w = workers[plan.name] = _Worker(plan, process, ours)
        return w, True

    def _retire(self, w: _Worker) -> None:
        if self._resources.workers.get(w.plan.name) is w:
            del self._resources.workers[w.plan.name]
        w.stop()


def _inspect(name: str) -> _Plan | _Refusal:
    target = registry.REGISTRY.get(name)
    if target is None:
        return _Refusal("unavailable", f"unknown backend {name!r}")
    try:
        cls = registry.backend_class(name)
        installed = cls.is_installed()
    except ImportError as exc:
        return _Refusal("unavailable", str(exc))
    except Exception as exc:
        return _Refusal("error", worker.one_line(exc))
    try:
        version = cls.version()
    except Exception:
        version = None
    method = cls.method
    if not installed:
        reason = f"{cls.module} is not installed"
        if cls.install_hint:
            reason += f" ({cls.install_hint})"
        return _Refusal("unavailable", reason, method, version)
    isolated = bool(getattr(cls, "isolated", True))
    return _Plan(name, target, method, version, isolated, tuple(cls.dtypes),
                 tuple(getattr(cls, "devices", ("cpu",))))


class Run:
    """One request on a pool's backends; :meth:`results` collects their rows.

    Built by :func:`start` (``Run(request, backends, ...)``: a pool of its own, whose
    workers end with the run) or by :meth:`Pool.submit`.
    """

    _closed: bool

    def __init__(
        self,
        request: Request,
        backends: Sequence[str],
        *,
        jobs: int | None = None,
        isolate: bool = True,
        verbose: bool = False,
    ) -> None:
        pool = Pool(backends, jobs=jobs, isolate=isolate, verbose=verbose)
        pool._one_shot = True
        pool._attach(self, request, pool.backends)

    def _setup(
        self, pool: Pool, request: Request, backends: tuple[str, ...], submission: int
    ) -> None:
        self._closed = False
        self._pool = pool
        self._request = request
        self._submission = submission
        self._names = backends
        self._rows: list[BackendResult | None] = [None] * len(self._names)
        self._slots: dict[str, list[int]] = {}
        self._undelivered: deque[int] = deque()
        self._local: list[_Plan] = []
        self._queue: deque[_Plan] = deque()
        self._busy: list[_Worker] = []
        self._resources = resources = pool._resources
        end: Callable[[], None] = (
            resources.release if pool._one_shot else partial(resources.end_submission, submission)
        )
        self._finalizer = weakref.finalize(self, end)
        self._finalizer.atexit = False  # _release_all covers exit, in the right order
        self._inputs: str | dict[str, np.ndarray] = {}
        self._shared = False
        self._closed = False
        resources.submission = submission
        try:
            for index, name in enumerate(self._names):
                if name in self._slots:
                    self._slots[name].append(index)
                    continue
                self._slots[name] = [index]
                plan = pool._plan(name, request.dtype, request.device)
                if isinstance(plan, BackendResult):
                    self._decide(name, plan)
                elif pool._isolate and plan.isolated:
                    self._queue.append(plan)
                else:
                    self._local.append(plan)
            if self._queue:
                self._inputs = self._share_inputs()
                self._fill()
        except BaseException:
            self.close()
            raise

    def results(
        self, on_result: Callable[[BackendResult], None] | None = None
    ) -> list[BackendResult]:
        """Every row, in the order of ``backends``; blocks until the last one is in.

        ``on_result`` sees each row as it arrives (in-process rows first). Ctrl-C here
        kills the workers still computing and frees the shared memory before the
        interrupt goes on.
        """
        if None in self._rows and (
            self._closed or self._resources.submission != self._submission
        ):
            raise RuntimeError("this run was closed before its results were collected")
        try:
            self._deliver(on_result)
            while self._local:
                plan = self._local.pop(0)
                row = _run_here(plan, self._request, self._pool._verbose)
                self._pool._refuse(row)
                self._decide(plan.name, row)
                self._deliver(on_result)
            while self._busy or self._queue:
                self._fill()
                if self._busy:
                    self._step()
                self._deliver(on_result)
        except BaseException:
            self.close()
            raise
        self.close()
        rows = [row for row in self._rows if row is not None]
        assert len(rows) == len(self._names), "a backend's row went missing"
        return rows

    def close(self) -> None:
        """Kill whatever still computes for this run and unlink its blocks (with a run
        from :func:`start`, end its workers too); safe to call again."""
        self._closed = True
        self._queue.clear()
        self._local.clear()
        self._busy.clear()
        self._finalizer()

    def cancel(self) -> None:
        """Give up on the rows (the caller failed or was interrupted): same as close."""
        self.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _decide(self, name: str, row: BackendResult) -> None:
        for index in self._slots[name]:
            self._rows[index] = row
            self._undelivered.append(index)

    def _deliver(self, on_result: Callable[[BackendResult], None] | None) -> None:
        while self._undelivered:
            row = self._rows[self._undelivered.popleft()]
            if on_result is not None and row is not None:
                on_result(row)

    def _share_inputs(self) -> str | dict[str, np.ndarray]:
        """One input block for all workers, unless /dev/shm has no room for the run."""
        request = self._request
        names = tuple(request.points)
        itemsize = dtypes.numpy_dtype(request.dtype).itemsize
        input_bytes = len(names) * request.size * itemsize
        jobs = self._pool._jobs
        at_once = min(jobs or len(self._queue), len(self._queue))
        if not _room_for(input_bytes + at_once * self._output_bytes()):
            return request.inputs()
        try:
            block = _create_block(input_bytes)
        except OSError:
            return request.inputs()
        self._resources.inputs = block
        rows = np.ndarray((len(names), request.size), dtype=dtypes.numpy_dtype(request.dtype),
                          buffer=block.buf)
        for i, name in enumerate(names):
            rows[i] = dtypes.round_to(request.points[name], request.dtype)  # as Request.inputs()
        del rows
        self._shared = True
        return block.name

    def _output_bytes(self) -> int:
        request = self._request
        return (1 + len(request.wrt)) * request.size * dtypes.numpy_dtype(request.dtype).itemsize

    def _fill(self) -> None:
        jobs = self._pool._jobs
        while self._queue and (jobs is None or len(self._busy) < jobs):
            self._dispatch(self._queue.popleft())

    def _dispatch(self, plan: _Plan) -> None:
        """Hand the task to the backend's worker; a worker found dead while idle is
        replaced once, silently, since this submission did not kill it."""
        request = self._request
        for _ in range(2):
            try:
                w, fresh = self._pool._ready_worker(plan)
            except Exception as exc:
                self._decide(plan.name, _failed(plan, request, "error", worker.one_line(exc)))
                return
            if self._shared and w.output is None:
                with suppress(OSError):
                    w.output = _create_block(self._output_bytes())
            w.busy = True
            w.started = time.monotonic()
            w.deadline = w.started + float(request.timeout)
            self._busy.append(w)
            task = worker.Task(
                backend=plan.name,
                target=plan.target,
                expr=request.expr,
                wrt=tuple(request.wrt),
                dtype=request.dtype,
                size=request.size,
                variables=tuple(request.points),
                inputs=self._inputs,
                output=None if w.output is None else w.output.name,
                verbose=self._pool._verbose,
                mode=request.mode,
                device=plan.device(request),
            )
            try:
                w.conn.send(task)
            except OSError:
                if fresh:  # it died before reading its first task: leave it to _step
                    return
                self._busy.remove(w)
                w.busy = False
                self._pool._retire(w)
                continue
            except Exception as exc:  # unpicklable: nothing was written, the worker is fine
                self._busy.remove(w)
                w.busy = False
                w.drop_output()
                self._decide(plan.name, _failed(plan, request, "error", worker.one_line(exc)))
            return

    def _step(self) -> None:
        """Wait for the next answer, death or deadline, and turn each into a row."""
        busy = self._busy
        deadline = min(w.deadline for w in busy)
        timeout = None if math.isinf(deadline) else max(0.0, deadline - time.monotonic())
        ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)
        for w in list(busy):
            if w.conn in ready or w.process.sentinel in ready:
                row, healthy = self._answer(w)
            elif time.monotonic() >= w.deadline:
                reason = f"no answer within {float(self._request.timeout)} s"
                row = _failed(w.plan, self._request, "timeout", reason, self._request.timeout)
                healthy = False
            else:
                continue
            busy.remove(w)
            w.busy = False
            if healthy and not self._pool._one_shot:
                w.drop_output()
            else:
                self._pool._retire(w)
            self._pool._refuse(row)
            self._decide(w.plan.name, row)

    def _answer(self, w: _Worker) -> tuple[BackendResult, bool]:
        """The row, and whether the worker can take another task."""
        request = self._request
        plan = w.plan
        reply: object = None
        if w.conn.poll():
            try:
                reply = w.conn.recv()
            except (EOFError, OSError):
                reply = None
            except Exception as exc:
                reason = f"unreadable answer: {worker.one_line(exc)}"
                return _failed(plan, request, "error", reason), False
        if isinstance(reply, worker.Reply):
            healthy = reply.status != "unavailable" and w.process.exitcode is None
            return self._from_reply(w, reply), healthy
        w.process.join(timeout=5.0)
        seconds = time.monotonic() - w.started
        return _failed(plan, request, "crashed", _death(w.process.exitcode), seconds), False

    def _from_reply(self, w: _Worker, reply: worker.Reply) -> BackendResult:
        request = self._request
        slot_bytes = request.size * dtypes.numpy_dtype(request.dtype).itemsize
        arrays: list[np.ndarray] = []
        for i, slot in enumerate(reply.slots):
            if isinstance(slot, str):
                assert w.output is not None
                arrays.append(
                    _view(w.output, i * slot_bytes, request.size, dtypes.numpy_dtype(slot))
                )
            else:
                arrays.append(slot)
        if w.output is not None and any(isinstance(slot, str) for slot in reply.slots):
            _discard(w.output, keep_mapped=True)  # the arrays above now own the mapping
            w.output = None
        if reply.import_seconds is not None:
            self._pool.import_seconds[w.plan.name] = reply.import_seconds
        ok = reply.status == "ok"
        return _result(
            backend=w.plan.name,
            status=reply.status,
            dtype=reply.dtype or request.dtype,
            method=reply.method or w.plan.method,
            version=w.plan.version,
            values=arrays[0] if ok else None,
            derivatives=dict(zip(request.wrt, arrays[1:], strict=False)) if ok else {},
            reason=reply.reason,
            seconds=reply.seconds,
            extra=reply.extra,
            device=w.plan.device(request),
        )


def _run_here(plan: _Plan, request: Request, verbose: bool) -> BackendResult:
    outcome = worker.evaluate(
        plan.target, request.expr, request.inputs(), tuple(request.wrt), request.dtype,
        request.size, verbose=verbose, mode=request.mode, device=plan.device(request),
    )
    return _result(
        backend=plan.name,
        status=outcome.status,
        dtype=outcome.dtype or request.dtype,
        method=outcome.method or plan.method,
        version=plan.version,
        values=outcome.values,
        derivatives=outcome.derivatives,
        reason=outcome.reason,
        seconds=outcome.seconds,
        extra=outcome.extra,
        device=plan.device(request),
    )


def _failed(
    plan: _Plan, request: Request, status: str, reason: str, seconds: float = 0.0
) -> BackendResult:
    return _result(
        backend=plan.name,
        status=status,
        dtype=request.dtype,
        method=plan.method,
        version=plan.version,
        reason=reason,
        seconds=seconds,
        device=plan.device(request),
    )


def _result(**values: Any) -> BackendResult:
    """A BackendResult, passing ``extra`` along once the model has a field for it."""
    if "extra" not in _RESULT_FIELDS:
        values.pop("extra", None)
    return BackendResult(**values)


def _death(exitcode: int | None) -> str:
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

    The worker leads its own process group (worker._lead_process_group), so killing
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


def _create_block(nbytes: int) -> SharedMemory:
    for _ in range(8):
        name = f"{BLOCK_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"  # <= 30: macOS's limit
        try:
            return SharedMemory(name=name, create=True, size=max(nbytes, 1))
        except FileExistsError:
            continue
    raise FileExistsError("no free shared memory name")


def _discard(block: SharedMemory, *, keep_mapped: bool = False) -> None:
    """Unlink a block exactly once (a second unlink would leave the resource tracker
    believing it leaked); ``keep_mapped`` leaves the pages to arrays that still view them."""
    with suppress(FileNotFoundError):
        block.unlink()
    if not keep_mapped:
        with suppress(BufferError, OSError):
            block.close()


def _room_for(nbytes: int) -> bool:
    """Whether /dev/shm can hold ``nbytes`` more. A full tmpfs does not fail the
    allocation: it kills the writer with SIGBUS, so ask before (containers often give
    /dev/shm only 64 MiB). Without /dev/shm (macOS) there is no such quota to ask."""
    try:
        stat = os.statvfs("/dev/shm")
    except (OSError, AttributeError):
        return True
    return stat.f_bavail * stat.f_frsize >= nbytes + (1 << 20)


class _Mapped:
    """Hands numpy a view of a shared block and keeps the block mapped for as long as
    any array views it, so an answer is read where the worker wrote it, not copied."""

    def __init__(self, block: SharedMemory, offset: int, count: int, dtype: np.dtype[Any]):
        self.block = block
        assert block.buf is not None
        probe = np.frombuffer(block.buf, dtype=np.uint8, count=1)
        address = int(probe.ctypes.data) + offset
        del probe  # no buffer export may outlive this: block.close() must stay possible
        self.__array_interface__ = {
            "version": 3,
            "shape": (count,),
            "typestr": dtype.str,
            "data": (address, False),
        }


def _view(block: SharedMemory, offset: int, count: int, dtype: np.dtype[Any]) -> np.ndarray:
    array = np.asarray(_Mapped(block, offset, count, dtype))
    # The array interface spells bfloat16 as raw 2-byte voids: view them as what they are.
    return array if array.dtype == dtype else array.view(dtype)
