"""The warm pool a resident service lends to the command it is running.

Why its own module: the commands open a worker pool of their own for each run
(:func:`autograd_cli.comparison.plan.worker_pool`, the suite runner). Inside the
service (:mod:`autograd_cli.cli.daemon`) they must use the service's pool instead,
whose workers have their framework loaded already; everywhere else nothing is lent and
nothing changes. A pool is lent only to a run that would make one like it: isolated
workers, the default ``--jobs``, not ``--verbose`` (a verbose run's workers write to
the run's own stderr, so it gets workers of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autograd_cli.execution.runner import Pool

_LENT: list[Pool] = []


@contextmanager
def lend(pool: Pool) -> Iterator[None]:
    """Within the block, :func:`lent` hands out ``pool``."""
    _LENT.append(pool)
    try:
        yield
    finally:
        _LENT.remove(pool)


def lent(*, jobs: int | None = None, isolate: bool = True, verbose: bool = False) -> Pool | None:
    """The pool lent to this run, if any and if the run's settings fit it."""
    if not _LENT or jobs is not None or not isolate or verbose:
        return None
    return _LENT[-1]
