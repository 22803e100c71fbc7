"""Warm workers for a Python process: ``compare()`` in a notebook loads each framework
once, not once per call, so a second call answers in a fraction of a second.

Why its own module: the lifetime of a pool that outlives a call (made on first use,
grown to whatever backends are asked for, replaced after a call that was interrupted,
closed by :meth:`Session.close` or at exit by the exit hook of
:mod:`autograd_cli.execution.processes`) is one job, apart from running a request.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograd_cli.core.switches import on_unless_ci

if TYPE_CHECKING:
    from autograd_cli.execution.runner import Pool
    from autograd_cli.report.model import Report


#: The background compiling's switch (execution/warmup.py): 0/off/false/no or
#: 1/on/true/yes; unset means on, unless CI is set (CI jobs are one-shot: a minute of
#: both cores compiling what nobody will ask for). The service follows it too.
VARIABLE = "GRADCHECK_WARMUP"


def enabled(env: Mapping[str, str]) -> bool:
    """Whether the environment turns the background compiling on (see :data:`VARIABLE`)."""
    return on_unless_ci(env, VARIABLE)


def jax_cache(env: Mapping[str, str]) -> str | None:
    """The folder where a session's JAX keeps what it compiled, so a later process reads
    it back instead of compiling again: ``$XDG_CACHE_HOME/gradcheck/jax-cache`` (or
    ``~/.cache/...``), made 0700. None where the user names one (the workers inherit
    the variable) or where the folder cannot be made or trusted: the cache holds
    compiled code that JAX runs, so a folder another user could write to, or a symlink,
    is refused (checked as the service's folder is) and JAX compiles as usual."""
    from autograd_cli.backends.jax import CACHE_VARIABLE
    from autograd_cli.execution.service_paths import Refused, check_folder

    if CACHE_VARIABLE in env:
        return None
    base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    ours, folder = base / "gradcheck", base / "gradcheck" / "jax-cache"
    try:
        base.mkdir(parents=True, exist_ok=True)
        for made in (ours, folder):
            with suppress(FileExistsError):
                made.mkdir(mode=0o700)
            check_folder(made, private=True)
    except (OSError, RuntimeError, Refused):
        return None
    return str(folder)


class Session:
    """Workers kept warm across comparisons; a context manager that closes them.

    ``session.compare(...)`` takes :func:`autograd_cli.compare`'s arguments. Calls from
    several threads take turns (one submission at a time per pool). A worker that
    crashed or timed out is replaced at the next call, as in one call's pool; a call
    interrupted mid-way (Ctrl-C in a notebook) closes the pool, and the next call
    starts a fresh one rather than inherit a half-collected submission.

    ``warm_up`` (default: on unless ``GRADCHECK_WARMUP=0``, or ``CI`` is set): while no
    call runs, each framework's worker compiles the ops the next calls are likely to
    need (the last expression in the other dtype, mode and order, then every function),
    so a second call that changes them does not wait for JAX to compile."""

    def __init__(self, *, jobs: int | None = None, verbose: bool = False,
                 warm_up: bool | None = None) -> None:
        self._jobs = jobs
        self._verbose = verbose
        self._warm_up = enabled(os.environ) if warm_up is None else warm_up
        self._pool: Pool | None = None
        self._lock = threading.Lock()
        self._closed = False

    def compare(self, expression: str, at: Any, **options: Any) -> Report:
        from autograd_cli import compare

        return compare(expression, at, session=self, **options)

    @contextmanager
    def pool(self) -> Iterator[Pool]:
        """This session's pool for one call, made on first use."""
        from autograd_cli.execution.runner import Pool

        with self._lock:
            if self._closed:
                raise RuntimeError("this session is closed")
            if self._pool is None:
                self._pool = Pool([], jobs=self._jobs, isolate=True, verbose=self._verbose,
                                  warm=self._warm_up, environment=self._environment())
            try:
                yield self._pool
            except ValueError:  # bad input or a truth timeout: the run was cancelled cleanly
                raise
            except BaseException:
                self._drop()
                raise

    def _environment(self) -> dict[str, str]:
        """What the workers are given: JAX's cache folder, where the session compiles
        ahead and the folder can be trusted."""
        from autograd_cli.backends.jax import CACHE_VARIABLE

        folder = jax_cache(os.environ) if self._warm_up else None
        return {CACHE_VARIABLE: folder} if folder else {}

    @property
    def pids(self) -> dict[str, int]:
        """Each framework's live worker process (empty before the first call)."""
        return {} if self._pool is None else self._pool.pids

    def close(self) -> None:
        """End the workers; the session cannot be used after. Safe to call again."""
        with self._lock:
            self._closed = True
            self._drop()

    def _drop(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_DEFAULT: Session | None = None
_DEFAULT_LOCK = threading.Lock()
#: The default session's warm-up: None follows the environment (Session's rule); the
#: pytest plugin sets False, since a test run asks for everything it needs anyway.
default_warm_up: bool | None = None


def default_session() -> Session:
    """The process's own session, which ``compare()`` uses when given none."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None or _DEFAULT._closed:
            _DEFAULT = Session(warm_up=default_warm_up)
        return _DEFAULT
