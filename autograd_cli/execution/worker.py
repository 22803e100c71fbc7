"""One backend, one process: the code that runs inside a runner's worker.

:mod:`autograd_cli.execution.runner` starts :func:`main` with the *spawn* method, so a worker
is a fresh interpreter that imports only numpy, this module, the backend's module and
its framework. It then answers one :class:`Task` after another (a pool reuses it, so
the framework loads once) until the parent hangs up. Inputs arrive in a shared-memory
block the parent owns, outputs go back into another; only small metadata
(:class:`Reply`) crosses the pipe. :func:`evaluate` is also the in-process path, so
both paths classify failures the same way.
"""

from __future__ import annotations

import faulthandler
import gc
import importlib
import os
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from autograd_cli.core.dtypes import name_of, numpy_dtype
from autograd_cli.execution import surroundings

if TYPE_CHECKING:
    from autograd_cli.backends.base import Backend
    from autograd_cli.expr.nodes import Expr

Status = Literal["ok", "error", "unavailable", "unsupported"]


@dataclass(frozen=True)
class Task:
    """What a worker is asked to do: one request, sent through the pipe."""

    backend: str
    target: str  # "module:Class", so the worker never consults the registry
    expr: Expr
    wrt: tuple[str, ...]
    dtype: str
    size: int
    variables: tuple[str, ...]  # row order of the input block
    inputs: str | dict[str, np.ndarray]  # shared block name, or the arrays themselves
    output: str | None  # shared block name; None: send the arrays through the pipe
    verbose: bool = False
    mode: str = "reverse"  # for backends with modes; wrt's labels give the order
    device: str = "cpu"  # for backends with devices beyond the CPU


@dataclass
class Outcome:
    """A backend's answer, or why there is none, before it crosses any boundary."""

    status: Status
    method: str = ""
    dtype: str = ""
    values: np.ndarray | None = None
    derivatives: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    seconds: float = 0.0


@dataclass
class Reply:
    """The metadata a worker sends back. ``slots`` follows the output block's layout
    (values, then one per wrt): a dtype string means "written into the block as this
    dtype", an array means it did not fit there and travelled through the pipe.
    ``import_seconds`` is set on a worker's first answer only; ``seconds`` includes it."""

    status: Status
    method: str
    dtype: str
    reason: str | None
    seconds: float
    extra: dict[str, Any]
    slots: list[str | np.ndarray]
    import_seconds: float | None = None


def load(target: str) -> type[Backend]:
    """The class behind a registry target string."""
    module_name, _, class_name = target.partition(":")
    cls: type[Backend] = getattr(importlib.import_module(module_name), class_name)
    return cls


def one_line(exc: BaseException) -> str:
    """``ExcType: first line of the message``: a row has room for one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def evaluate(
    target: str,
    expr: Expr,
    inputs: Mapping[str, np.ndarray],
    wrt: tuple[str, ...],
    dtype: str,
    size: int,
    *,
    verbose: bool = False,
    mode: str = "reverse",
    device: str = "cpu",
) -> Outcome:
    """Import the backend and evaluate; an ImportError means the framework is unavailable.
    ``mode`` reaches only backends that have modes, so plugins need not know of it."""
    start = time.perf_counter()
    try:
        cls = load(target)
        order = max((name.count(",") + 1 for name in wrt), default=1)  # "x,y": 2
        if order > cls.max_order:
            raise ValueError(f"this backend computes derivatives up to order {cls.max_order}, "
                             f"not {order}")
        why = cls.unsupported(expr, mode, order) if hasattr(cls, "unsupported") else None
        if why is not None:
            outcome = Outcome("unsupported", method=cls.describe(mode, order), dtype=dtype,
                              reason=why)
            outcome.seconds = time.perf_counter() - start
            return outcome
        options: dict[str, Any] = {"mode": mode} if cls.modes else {}
        if device != "cpu" and device in cls.devices:
            options["device"] = device
        result = cls().evaluate(expr, inputs, wrt, dtype, **options)
        derivatives = {}
        for name in wrt:
            if name not in result.derivatives:
                raise KeyError(f"the backend gave no derivative with respect to {name!r}")
            derivatives[name] = _column(result.derivatives[name], size, f"d/d{name}")
        outcome = Outcome(
            "ok",
            method=result.method,
            dtype=result.dtype,
            values=_column(result.values, size, "values"),
            derivatives=derivatives,
            extra=dict(result.extra),
        )
    except Exception as exc:
        outcome = _failure(exc, verbose)
    outcome.seconds = time.perf_counter() - start
    return outcome


def _failure(exc: Exception, verbose: bool) -> Outcome:
    from autograd_cli.backends.base import DeviceUnavailable, Unsupported

    if verbose:
        traceback.print_exc()
    if isinstance(exc, Unsupported):
        return Outcome("unsupported", reason=str(exc))
    if isinstance(exc, ImportError):
        return Outcome("unavailable", reason=str(exc).strip() or one_line(exc))
    if isinstance(exc, DeviceUnavailable):
        return Outcome("unavailable", reason=str(exc))
    return Outcome("error", reason=one_line(exc))


def _runs(task: Task) -> bool:
    """Whether the backend will compute ``task``: not when it has no native op for it
    (its row is ``unsupported``, answered without importing the framework)."""
    try:
        cls = load(task.target)
        order = max((name.count(",") + 1 for name in task.wrt), default=1)
        return getattr(cls, "unsupported", lambda *a: None)(task.expr, task.mode, order) is None
    except Exception:
        return True  # evaluate() says what is wrong


def _import(target: str) -> None:
    """Import the backend and its framework before the first evaluation, so the
    import is timed apart from the evaluation."""
    module = load(target).module
    if module:
        importlib.import_module(module)


def _column(array: Any, size: int, what: str) -> np.ndarray:
    """One value per point; a backend may hand back a scalar for a constant."""
    column = np.asarray(array)
    if column.shape == (size,):
        return column
    try:
        return np.ascontiguousarray(np.broadcast_to(column, (size,)))
    except ValueError:
        raise ValueError(f"{what} have shape {column.shape}, expected ({size},)") from None


def attach(name: str) -> SharedMemory:
    """Map a block the parent created, without telling the resource tracker.

    The parent owns every block and unlinks it. Before Python 3.13 attaching also
    registers the block, and a tracker that outlives this process would then unlink it
    under the parent's feet and warn about a "leaked shared_memory" object.
    """
    register = resource_tracker.register
    resource_tracker.register = _ignore  # type: ignore[assignment]
    try:
        return SharedMemory(name=name)
    finally:
        resource_tracker.register = register


def _ignore(name: str, rtype: str) -> None:
    return None


#: Seconds a warm worker waits after a task before it compiles in the background, so
#: calls in quick succession (a loop) never wait behind a warm-up item.
WARM_PAUSE = 1.0


def main(conn: Connection, verbose: bool = False, warm: bool = False,
         environment: Mapping[str, str] | None = None) -> None:
    """The worker process's target: answer tasks until the parent closes the pipe. It
    never returns: ``os._exit`` skips framework teardown, which can be slow, noisy or
    hang. ``warm``: between tasks, compile the framework's ops for the checks likely to
    come (:mod:`autograd_cli.execution.warmup`). ``environment``: variables to set
    before the framework loads (JAX's cache folder)."""
    os.environ.update(environment or {})
    os.dup2(2, 1)  # stdout is the parent CLI's data; nothing of ours may land there
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C for us
    if hasattr(signal, "pthread_sigmask"):  # blocked while we started (processes.spawn)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    surroundings.lead_process_group()
    surroundings.exit_with_parent()
    if verbose:
        faulthandler.enable()
    else:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    imported: set[str] = set()
    idle: Any = None  # warmup.Idle, imported only by workers that warm
    answered = time.monotonic()
    while True:
        try:
            pause = WARM_PAUSE - (time.monotonic() - answered)
            if idle is not None and not conn.poll(max(pause, 0.0)):
                idle = _compile_one(idle, verbose)
                continue
            task = conn.recv()
        except (EOFError, OSError):
            break
        except Exception as exc:  # a task that does not unpickle here
            _send(conn, Reply("error", "", "", one_line(exc), 0.0, {}, []))
            continue
        if not isinstance(task, Task):
            break
        blocks: list[SharedMemory] = []  # mapped until the answer is sent
        runs = _runs(task)
        try:
            _send(conn, _answer(task, runs and task.target not in imported, blocks))
        finally:
            _close(blocks)
        if runs:
            imported.add(task.target)
            if warm:
                idle = _after(idle, task)
        answered = time.monotonic()
    surroundings.flush()
    os._exit(0)


def _after(idle: Any, task: Task) -> Any:
    """The worker's warm-up queue (a warmup.Idle, made on the first task) once ``task``
    is answered."""
    from autograd_cli.execution import warmup

    if idle is None:
        idle = warmup.Idle(task.backend, task.target, task.device)
    idle.answered(warmup.Item("", task.expr, task.variables, task.wrt, task.dtype, task.mode))
    return idle


def _compile_one(idle: Any, verbose: bool) -> Any:
    """Run the warm-up queue's next item, its answer discarded; None once none is left."""
    from autograd_cli.execution import warmup

    item = idle.next()
    if item is None:
        return None
    with surroundings.silenced(not verbose), suppress(Exception):
        inputs = warmup.points(item, numpy_dtype(item.dtype))
        evaluate(idle.target, item.expr, inputs, item.wrt, item.dtype, 1,
                 verbose=verbose, mode=item.mode, device=idle.device)
    return idle


def _answer(task: Task, first: bool, blocks: list[SharedMemory]) -> Reply:
    """Evaluate one task; its arrays die with this frame, so the blocks can be closed."""
    try:
        with surroundings.silenced(not task.verbose):
            start = time.perf_counter()
            try:
                if first:
                    _import(task.target)
            except Exception as exc:
                outcome = _failure(exc, task.verbose)
                outcome.seconds = time.perf_counter() - start
                return _reply(task, outcome, blocks)
            import_seconds = time.perf_counter() - start if first else None
            inputs = _inputs(task, blocks)
            outcome = evaluate(
                task.target, task.expr, inputs, task.wrt, task.dtype, task.size,
                verbose=task.verbose, mode=task.mode, device=task.device,
            )
            outcome.seconds += import_seconds or 0.0
            reply = _reply(task, outcome, blocks)
            reply.import_seconds = import_seconds
            return reply
    except BaseException as exc:
        return Reply("error", "", task.dtype, one_line(exc), 0.0, {}, [])


#: Blocks a backend still viewed when its task ended, closed once it lets go.
_LINGERING: list[SharedMemory] = []


def _close(blocks: list[SharedMemory]) -> None:
    """Unmap a task's blocks (the parent unlinks them), so a long-lived worker does
    not collect one mapping per task."""
    pending = _LINGERING + blocks
    _LINGERING.clear()
    for attempt in range(2):
        if attempt:
            gc.collect()  # views kept alive only by reference cycles
        held = []
        for block in pending:
            try:
                block.close()
            except BufferError:
                held.append(block)
        pending = held
        if not pending:
            return
    _LINGERING.extend(pending)


def _inputs(task: Task, blocks: list[SharedMemory]) -> dict[str, np.ndarray]:
    if not isinstance(task.inputs, str):
        return task.inputs
    block = attach(task.inputs)
    blocks.append(block)
    rows = _span(block, numpy_dtype(task.dtype), len(task.variables) * task.size)
    rows = rows.reshape(len(task.variables), task.size)
    rows.flags.writeable = False  # every worker reads the same block
    return {name: rows[i] for i, name in enumerate(task.variables)}


def _span(block: SharedMemory, dtype: Any, count: int, offset: int = 0) -> np.ndarray:
    """A view that holds a buffer export (``np.ndarray(buffer=...)`` holds none), so
    :func:`_close` cannot unmap memory that a backend still looks at."""
    assert block.buf is not None
    return np.frombuffer(block.buf, dtype=dtype, count=count, offset=offset)


def _reply(task: Task, outcome: Outcome, blocks: list[SharedMemory]) -> Reply:
    arrays = [] if outcome.values is None else [outcome.values]
    arrays += [outcome.derivatives[name] for name in task.wrt if name in outcome.derivatives]
    slots: list[str | np.ndarray] = list(arrays)
    if task.output is not None and arrays:
        block = attach(task.output)
        blocks.append(block)
        itemsize = numpy_dtype(task.dtype).itemsize
        slot_bytes = task.size * itemsize
        for i, array in enumerate(arrays):
            if not array.dtype.hasobject and array.dtype.itemsize <= itemsize:
                _span(block, array.dtype, task.size, i * slot_bytes)[...] = array
                slots[i] = name_of(array.dtype)
    return Reply(
        outcome.status,
        outcome.method,
        outcome.dtype or task.dtype,
        outcome.reason,
        outcome.seconds,
        outcome.extra,
        slots,
    )


def _send(conn: Connection, reply: Reply) -> None:
    try:
        pickle.dumps(reply.extra)
    except Exception:
        reply.extra = {key: repr(value) for key, value in reply.extra.items()}
    try:
        conn.send(reply)
    except OSError:  # the parent is gone; nobody is left to answer
        os._exit(1)
    except Exception as exc:  # the answer does not pickle; nothing was written
        conn.send(Reply("error", reply.method, reply.dtype, one_line(exc), reply.seconds, {}, []))
    surroundings.flush()


if __name__ == "__main__":
    sys.exit("autograd_cli.execution.worker is started by the runner, not run directly")
