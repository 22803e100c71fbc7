"""What points and sweeps decide alike, in one place: which frameworks run in which
autodiff mode, in which worker pool, and what each row is called and says before it
has run (method, device, version), asked of the registry without importing any
framework. :mod:`.points` and :mod:`.sweep` differ only in what they do with results.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autograd_cli.backends import backend_class
from autograd_cli.core.model import MODES

if TYPE_CHECKING:
    from autograd_cli.execution.runner import Pool

#: The exact reference's row: computed in this process, never by a worker.
ANALYTIC = "analytic"


def modes_of(name: str) -> tuple[str, ...]:
    """The autodiff modes a backend has (none for analytic, or an unknown or broken
    backend)."""
    try:
        return tuple(backend_class(name).modes)
    except Exception:
        return ()


def method_of(name: str, mode: str | None = None, order: int = 1) -> str:
    """A backend's method for a row ("torch.func.jvp ×2 (forward)"); "" if unknown."""
    try:
        return str(backend_class(name).describe(mode or "reverse", order))
    except Exception:
        return ""


def device_of(name: str, device: str) -> str:
    """Where a backend computes when ``device`` is asked for: the CPU unless it has
    that device (what its worker will confirm in each result)."""
    if name == ANALYTIC:
        return "cpu"
    try:
        devices = tuple(getattr(backend_class(name), "devices", ("cpu",)))
    except Exception:
        return device
    return device if device in devices else "cpu"


def version_of(name: str) -> str | None:
    try:
        version = backend_class(name).version()
    except Exception:
        return None
    return None if version is None else str(version)


def series_name(backend: str, mode: str | None, asked: str) -> str:
    """A sweep row's name in CSV columns, arrays and plots: the backend, with its mode
    ("torch:forward") when both modes were asked for."""
    return f"{backend}:{mode}" if asked == "both" and mode is not None else backend


def series_names(backends: Sequence[str], mode: str) -> list[str]:
    """Every row's :func:`series_name`, in row order (what the sinks are built with)."""
    return [series_name(name, own, mode) for name, own in ModePlan(tuple(backends), mode).rows()]


@dataclass(frozen=True)
class ModePlan:
    """Which backends run in which mode. ``asked`` is the request's --mode ("both" is
    each mode in turn); a backend without modes (analytic, finite-diff) runs once, in
    the first, and its rows carry no mode."""

    backends: tuple[str, ...]
    asked: str
    frameworks: tuple[str, ...] = field(init=False)
    moded: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        frameworks = tuple(n for n in self.backends if n != ANALYTIC)
        object.__setattr__(self, "frameworks", frameworks)
        object.__setattr__(self, "moded", frozenset(n for n in frameworks if modes_of(n)))

    @property
    def modes(self) -> tuple[str, ...]:
        return MODES if self.asked == "both" else (self.asked,)

    def own_mode(self, name: str, mode: str) -> str | None:
        """The mode a row of ``name`` carries when run in ``mode``."""
        return mode if name in self.moded else None

    def runs(self) -> list[tuple[str, list[str]]]:
        """(mode, frameworks run in it), first mode first; modes nobody runs left out."""
        found = [(self.modes[0], list(self.frameworks))]
        found += [(mode, [n for n in self.frameworks if n in self.moded])
                  for mode in self.modes[1:]]
        return found[:1] + [(mode, names) for mode, names in found[1:] if names]

    def rows(self) -> list[tuple[str, str | None]]:
        """(backend, mode) of every row, in the order asked for."""
        return [(name, own) for name in self.backends
                for own in dict.fromkeys(self.own_mode(name, m) for m in self.modes)]


def frameworks_of(backend_lists: Sequence[Sequence[str]]) -> list[str]:
    """Every framework (not analytic) that any of several requests runs, once each."""
    return list(dict.fromkeys(n for names in backend_lists for n in names if n != ANALYTIC))


@contextmanager
def worker_pool(frameworks: Sequence[str], pool: Pool | None, needed: bool, *,
                jobs: int | None, isolate: bool, verbose: bool) -> Iterator[Pool | None]:
    """``pool`` if one is given; else, when ``needed`` and there are frameworks, a pool
    of their own for the block, closed after it (each framework then loads once for
    every mode, chunk or dtype the block runs)."""
    if pool is None and frameworks:  # inside the service: its warm pool, if it fits
        from autograd_cli.execution.service_pool import lent

        pool = lent(jobs=jobs, isolate=isolate, verbose=verbose)
    if pool is not None or not needed or not frameworks:
        yield pool
        return
    from autograd_cli.execution import runner

    own = runner.Pool(list(frameworks), jobs=jobs, isolate=isolate, verbose=verbose)
    try:
        yield own
    finally:
        own.close()
