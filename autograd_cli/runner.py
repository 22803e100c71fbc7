"""Run backends in isolated worker processes, in parallel, each under a timeout.

Why processes: importing TensorFlow takes seconds, frameworks sharing a process fight
(OpenMP, protobuf), and one framework's segfault or hang must not cost the other rows.
Each worker is a fresh interpreter (spawn, never fork); this process imports no
framework, only each backend class's metadata. Points reach the workers through one
shared-memory block and answers come back through one block per worker, so large
arrays are never pickled; the pipe carries only small metadata (:class:`worker.Reply`).
Every way a worker can fail becomes that backend's row, and every process and block is
given back in every outcome: answer, crash, timeout, Ctrl-C, interpreter exit.
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
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnProcess
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np

from autograd_cli import backends as registry
from autograd_cli import worker
from autograd_cli.model import BackendResult, Request

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
    :meth:`Run.results`. ``jobs`` caps the workers alive at a time (default: all);
    ``isolate=False`` runs everything in this process, for debugging."""
    return Run(request, backends, jobs=jobs, isolate=isolate, verbose=verbose)


@dataclass(frozen=True)
class _Plan:
    """A backend that will run, with what the parent can know without its framework."""

    index: int
    name: str
    target: str
    method: str
    version: str | None
    isolated: bool


@dataclass
class _Worker:
    plan: _Plan
    process: SpawnProcess
    conn: Connection
    output: SharedMemory | None
    started: float
    deadline: float

    def stop(self) -> None:
        """Kill (if still running), reap, and give back the pipe and the output block."""
        _terminate(self.process)
        self.conn.close()
        if self.output is not None:
            _discard(self.output)
            self.output = None


class _Resources:
    """What a run must give back in every outcome: worker processes and shared blocks.

    Kept apart from :class:`Run` so a finalizer (a Run dropped unfinished) and the exit
    hook (Ctrl-C between ``start`` and ``results``) can release it without the Run.
    """

    def __init__(self) -> None:
        self.workers: list[_Worker] = []
        self.inputs: SharedMemory | None = None
        _OPEN.add(self)

    def release(self) -> None:
        _OPEN.discard(self)
        while self.workers:
            self.workers.pop().stop()
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


class Run:
    """Backends started by :func:`start`; :meth:`results` collects their rows."""

    def __init__(
        self,
        request: Request,
        backends: Sequence[str],
        *,
        jobs: int | None = None,
        isolate: bool = True,
        verbose: bool = False,
    ) -> None:
        if jobs is not None and jobs < 1:
            raise ValueError(f"jobs must be at least 1, not {jobs}")
        self._request = request
        self._names = tuple(backends)
        self._jobs = jobs
        self._verbose = verbose
        self._rows: list[BackendResult | None] = [None] * len(self._names)
        self._undelivered: deque[int] = deque()
        self._local: list[_Plan] = []
        self._queue: deque[_Plan] = deque()
        self._resources = _Resources()
        self._finalizer = weakref.finalize(self, self._resources.release)
        self._finalizer.atexit = False  # _release_all covers exit, in the right order
        self._inputs: str | dict[str, np.ndarray] = {}
        self._shared = False
        self._closed = False
        try:
            for index, name in enumerate(self._names):
                plan = _plan(index, name, request)
                if isinstance(plan, BackendResult):
                    self._decide(index, plan)
                elif isolate and plan.isolated:
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
        kills the workers and frees the shared memory before the interrupt goes on.
        """
        if self._closed and None in self._rows:
            raise RuntimeError("this run was closed before its results were collected")
        try:
            self._deliver(on_result)
            while self._local:
                plan = self._local.pop(0)
                self._decide(plan.index, _run_here(plan, self._request, self._verbose))
                self._deliver(on_result)
            while self._resources.workers or self._queue:
                self._fill()
                if self._resources.workers:
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
        """Kill whatever still runs and unlink every block; safe to call again."""
        self._closed = True
        self._queue.clear()
        self._local.clear()
        self._finalizer()

    def cancel(self) -> None:
        """Give up on the rows (the caller failed or was interrupted): same as close."""
        self.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _decide(self, index: int, row: BackendResult) -> None:
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
        itemsize = np.dtype(request.dtype).itemsize
        input_bytes = len(names) * request.size * itemsize
        at_once = min(self._jobs or len(self._queue), len(self._queue))
        if not _room_for(input_bytes + at_once * self._output_bytes()):
            return request.inputs()
        try:
            block = _create_block(input_bytes)
        except OSError:
            return request.inputs()
        self._resources.inputs = block
        rows = np.ndarray((len(names), request.size), dtype=request.dtype, buffer=block.buf)
        for i, name in enumerate(names):
            rows[i] = request.points[name]  # the same rounding as Request.inputs()
        del rows
        self._shared = True
        return block.name

    def _output_bytes(self) -> int:
        request = self._request
        return (1 + len(request.wrt)) * request.size * np.dtype(request.dtype).itemsize

    def _fill(self) -> None:
        while self._queue and (
            self._jobs is None or len(self._resources.workers) < self._jobs
        ):
            self._launch(self._queue.popleft())

    def _launch(self, plan: _Plan) -> None:
        request = self._request
        output: SharedMemory | None = None
        if self._shared:
            with suppress(OSError):
                output = _create_block(self._output_bytes())
        task = worker.Task(
            backend=plan.name,
            target=plan.target,
            expr=request.expr,
            wrt=tuple(request.wrt),
            dtype=request.dtype,
            size=request.size,
            variables=tuple(request.points),
            inputs=self._inputs,
            output=None if output is None else output.name,
            verbose=self._verbose,
        )
        reader, writer = _SPAWN.Pipe(duplex=False)
        process = _SPAWN.Process(
            target=worker.main, args=(task, writer), name=f"gradcheck-{plan.name}", daemon=True
        )
        try:
            with _parent_main_hidden(not plan.target.startswith("__main__:")):
                process.start()
        except Exception as exc:
            reader.close()
            if output is not None:
                _discard(output)
            self._decide(plan.index, _failed(plan, request, "error", worker.one_line(exc)))
            return
        finally:
            writer.close()  # ours; the worker's copy is the only one left, so EOF means death
        now = time.monotonic()
        self._resources.workers.append(
            _Worker(plan, process, reader, output, now, now + float(request.timeout))
        )

    def _step(self) -> None:
        """Wait for the next answer, death or deadline, and turn each into a row."""
        workers = self._resources.workers
        deadline = min(w.deadline for w in workers)
        timeout = None if math.isinf(deadline) else max(0.0, deadline - time.monotonic())
        ready = wait([w.conn for w in workers] + [w.process.sentinel for w in workers], timeout)
        for w in list(workers):
            if w.conn in ready or w.process.sentinel in ready:
                row = self._answer(w)
            elif time.monotonic() >= w.deadline:
                reason = f"no answer within {float(self._request.timeout)} s"
                row = _failed(w.plan, self._request, "timeout", reason, self._request.timeout)
            else:
                continue
            w.stop()
            workers.remove(w)
            self._decide(w.plan.index, row)

    def _answer(self, w: _Worker) -> BackendResult:
        request = self._request
        reply: object = None
        if w.conn.poll():
            try:
                reply = w.conn.recv()
            except (EOFError, OSError):
                reply = None
            except Exception as exc:
                reason = f"unreadable answer: {worker.one_line(exc)}"
                return _failed(w.plan, request, "error", reason)
        if isinstance(reply, worker.Reply):
            return self._from_reply(w, reply)
        w.process.join(timeout=5.0)
        return _failed(
            w.plan, request, "crashed", _death(w.process.exitcode), time.monotonic() - w.started
        )

    def _from_reply(self, w: _Worker, reply: worker.Reply) -> BackendResult:
        request = self._request
        slot_bytes = request.size * np.dtype(request.dtype).itemsize
        arrays: list[np.ndarray] = []
        for i, slot in enumerate(reply.slots):
            if isinstance(slot, str):
                assert w.output is not None
                arrays.append(_view(w.output, i * slot_bytes, request.size, np.dtype(slot)))
            else:
                arrays.append(slot)
        if w.output is not None and any(isinstance(slot, str) for slot in reply.slots):
            _discard(w.output, keep_mapped=True)  # the arrays above now own the mapping
            w.output = None
        ok = reply.status == "ok"
        return _result(
            backend=w.plan.name,
            status=reply.status,
            dtype=reply.dtype,
            method=reply.method or w.plan.method,
            version=w.plan.version,
            values=arrays[0] if ok else None,
            derivatives=dict(zip(request.wrt, arrays[1:], strict=False)) if ok else {},
            reason=reply.reason,
            seconds=reply.seconds,
            extra=reply.extra,
        )


def _plan(index: int, name: str, request: Request) -> _Plan | BackendResult:
    """What this process learns about a backend without importing its framework; a
    backend that cannot run at all gets its row here, without spawning anything."""
    dtype = request.dtype
    target = registry.REGISTRY.get(name)
    if target is None:
        return BackendResult(name, "unavailable", dtype, reason=f"unknown backend {name!r}")
    try:
        cls = registry.backend_class(name)
        installed = cls.is_installed()
    except ImportError as exc:
        return BackendResult(name, "unavailable", dtype, reason=str(exc))
    except Exception as exc:
        return BackendResult(name, "error", dtype, reason=worker.one_line(exc))
    try:
        version = cls.version()
    except Exception:
        version = None
    method = cls.method
    if not installed:
        reason = f"{cls.module} is not installed"
        if cls.install_hint:
            reason += f" ({cls.install_hint})"
        return BackendResult(name, "unavailable", dtype, method, version, reason=reason)
    if dtype not in cls.dtypes:
        reason = f"{name} does not compute in {dtype}"
        return BackendResult(name, "unavailable", dtype, method, version, reason=reason)
    return _Plan(index, name, target, method, version, bool(getattr(cls, "isolated", True)))


def _run_here(plan: _Plan, request: Request, verbose: bool) -> BackendResult:
    outcome = worker.evaluate(
        plan.target, request.expr, request.inputs(), tuple(request.wrt), request.dtype,
        request.size, verbose=verbose,
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
    defined there unpickle). Our target lives in :mod:`autograd_cli.worker`, so while
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
    return np.asarray(_Mapped(block, offset, count, dtype))
