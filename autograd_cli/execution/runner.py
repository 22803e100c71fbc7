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

Beside it: :mod:`.plans` (what a backend can do, known without its framework),
:mod:`.processes` (starting and killing workers, the exit hook), :mod:`.shared_memory`
(the blocks) and :mod:`.rows` (a backend's outcome as its row).
"""

from __future__ import annotations

import math
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from functools import partial
from multiprocessing.connection import wait

import numpy as np

from autograd_cli.core import dtypes
from autograd_cli.core.model import BackendResult, Request
from autograd_cli.execution import worker
from autograd_cli.execution.plans import Plan, Refusal, inspect
from autograd_cli.execution.processes import Resources, Worker, death, spawn, start_tracker
from autograd_cli.execution.rows import failed, result, run_here
from autograd_cli.execution.shared_memory import (
    BLOCK_PREFIX,
    create_block,
    discard,
    room_for,
    view,
)

__all__ = ["BLOCK_PREFIX", "Pool", "Run", "start"]


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


class Pool:
    """Workers that outlive a request: each backend's framework loads once per pool.

    A worker is spawned on a backend's first submission and reused after; one that
    timed out or crashed is killed with its children, gives that submission its row,
    and is replaced at the next submission. One submission at a time: :meth:`submit`
    raises RuntimeError while the previous :class:`Run` is neither collected nor closed.
    ``warm``: workers compile their framework's likely ops while idle (warmup.Idle);
    ``environment``: variables set in each worker before it loads its framework.
    """

    def __init__(
        self,
        backends: Sequence[str],
        *,
        jobs: int | None = None,
        isolate: bool = True,
        verbose: bool = False,
        warm: bool = False,
        environment: Mapping[str, str] | None = None,
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
        self._warm = warm
        self._environment = dict(environment or {})
        self._one_shot = False
        self._closed = False
        self._plans: dict[str, Plan | Refusal] = {}
        self._submissions = 0
        self._current: weakref.ref[Run] | None = None
        self._resources = Resources()
        self._finalizer = weakref.finalize(self, self._resources.release)
        self._finalizer.atexit = False  # processes' exit hook covers exit, in the right order

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

    def _plan(self, name: str, dtype: str, device: str = "cpu") -> Plan | BackendResult:
        """What this process knows about a backend without importing its framework; a
        backend that cannot run gets its row here, without spawning anything."""
        plan = self._plans.get(f"{name}@{device}") or self._plans.get(name)
        if plan is None:
            plan = self._plans[name] = inspect(name)
        if isinstance(plan, Refusal):
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
            self._plans[key] = Refusal("unavailable", row.reason, row.method, row.version)

    def _ready_worker(self, plan: Plan) -> tuple[Worker, bool]:
        """This backend's idle worker, or a fresh one (and True) if it has none or the
        one it had died while idle."""
        workers = self._resources.workers
        w = workers.get(plan.name)
        if w is not None and w.dead_or_confused():
            self._retire(w)
            w = None
        if w is not None:
            return w, False
        w = spawn(plan, self._verbose, self._warm, self._environment)
        self.spawns[plan.name] = self.spawns.get(plan.name, 0) + 1
        workers[plan.name] = w
        return w, True

    def _retire(self, w: Worker) -> None:
        if self._resources.workers.get(w.plan.name) is w:
            del self._resources.workers[w.plan.name]
        w.stop()

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
        self._local: list[Plan] = []
        self._queue: deque[Plan] = deque()
        self._busy: list[Worker] = []
        self._resources = resources = pool._resources
        end: Callable[[], None] = (
            resources.release if pool._one_shot else partial(resources.end_submission, submission)
        )
        self._finalizer = weakref.finalize(self, end)
        self._finalizer.atexit = False  # processes' exit hook covers exit, in the right order
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
                row = run_here(plan, self._request, self._pool._verbose)
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
        from :func:`start`, end its workers too); safe to call again, and on a run whose
        setup a signal cut short before it held anything."""
        self._closed = True
        if not hasattr(self, "_finalizer"):
            return
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
        if not room_for(input_bytes + at_once * self._output_bytes()):
            return request.inputs()
        try:
            start_tracker()
            block = create_block(input_bytes)
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

    def _dispatch(self, plan: Plan) -> None:
        """Hand the task to the backend's worker; a worker found dead while idle is
        replaced once, silently, since this submission did not kill it."""
        request = self._request
        for _ in range(2):
            try:
                w, fresh = self._pool._ready_worker(plan)
            except Exception as exc:
                self._decide(plan.name, failed(plan, request, "error", worker.one_line(exc)))
                return
            if self._shared and w.output is None:
                with suppress(OSError):
                    w.output = create_block(self._output_bytes())
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
                self._decide(plan.name, failed(plan, request, "error", worker.one_line(exc)))
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
                row = failed(w.plan, self._request, "timeout", reason, self._request.timeout)
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

    def _answer(self, w: Worker) -> tuple[BackendResult, bool]:
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
                return failed(plan, request, "error", reason), False
        if isinstance(reply, worker.Reply):
            healthy = reply.status != "unavailable" and w.process.exitcode is None
            return self._from_reply(w, reply), healthy
        w.process.join(timeout=5.0)
        seconds = time.monotonic() - w.started
        return failed(plan, request, "crashed", death(w.process.exitcode), seconds), False

    def _from_reply(self, w: Worker, reply: worker.Reply) -> BackendResult:
        request = self._request
        slot_bytes = request.size * dtypes.numpy_dtype(request.dtype).itemsize
        arrays: list[np.ndarray] = []
        for i, slot in enumerate(reply.slots):
            if isinstance(slot, str):
                assert w.output is not None
                arrays.append(
                    view(w.output, i * slot_bytes, request.size, dtypes.numpy_dtype(slot))
                )
            else:
                arrays.append(slot)
        if w.output is not None and any(isinstance(slot, str) for slot in reply.slots):
            discard(w.output, keep_mapped=True)  # the arrays above now own the mapping
            w.output = None
        if reply.import_seconds is not None:
            self._pool.import_seconds[w.plan.name] = reply.import_seconds
        ok = reply.status == "ok"
        return result(
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
