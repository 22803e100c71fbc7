"""SIGINT, SIGTERM and SIGHUP end a run the way Ctrl-C does: every cleanup runs, then the
command exits 128 + the signal's number (130, 143, 129), as a shell reports it.

Why: Python turns SIGINT into KeyboardInterrupt, so every ``finally`` and ``except
BaseException`` on the way out runs: workers are killed with their children, shared
memory blocks unlinked, half-written temp files removed, a suite's JUnit written for the
cases that finished. SIGTERM (``kill``, a CI job cancelled) and SIGHUP (the terminal
closed) would by default end the process on the spot and leave all of that behind. Here
all three raise :class:`Interrupted` in the main thread instead.

Only the first signal raises. Later ones (Ctrl-C pressed again while the first one
cleans up) are ignored: an exception raised inside the cleanup, an exit hook or a
finalizer would cut it short and print "Exception ignored ..." tracebacks. Once the
run has unwound, the signals are ignored outright (``SIG_IGN``) for the exit hooks and
the interpreter's teardown, so the exit code stays 128 + N; a run that ends without a
signal gets the previous handlers back. A signal the command inherited as ignored (``nohup``,
``cmd &`` in a script) stays ignored.

:class:`Interrupted` is a BaseException, so no ``except Exception`` swallows it, and not
a KeyboardInterrupt, which click would turn into "Aborted!" and exit 1.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from autograd_cli.execution import processes
from autograd_cli.report.common import EXIT_SIGNAL_BASE

#: The signals a run ends on cleanly (SIGHUP does not exist on Windows).
SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupted(BaseException):
    """Raised in the main thread by the first of :data:`SIGNALS`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signal.Signals(signum)

    @property
    def name(self) -> str:
        return self.signum.name

    @property
    def exit_code(self) -> int:
        return EXIT_SIGNAL_BASE + int(self.signum)

    def __str__(self) -> str:
        return f"interrupted ({self.name})"


@dataclass
class Caught:
    """What :func:`handled` saw: the first signal, and whether its exception reached
    the caller (``delivered``) or was lost in a finalizer and must be raised again."""

    signum: signal.Signals | None = None
    delivered: bool = False
    lost: bool = False

    @property
    def exit_code(self) -> int | None:
        return None if self.signum is None else EXIT_SIGNAL_BASE + int(self.signum)


@contextmanager
def handled(held: Sequence[int] = ()) -> Iterator[Caught]:
    """Within the block, the first of :data:`SIGNALS` raises :class:`Interrupted`.

    ``held`` are signals that arrived before the handlers were in place (while the CLI
    was imported, see :mod:`autograd_cli.__main__`): the first of them is raised at
    once, inside the block. Outside the main thread signals cannot be handled, and the
    block runs as it is.
    """
    caught = Caught()
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if caught.signum is None:
            if processes.starting():  # raised again once the worker is started
                processes.hold(signum)
                return
            caught.signum = signal.Signals(signum)
            raise Interrupted(signum)
        if caught.lost and not caught.delivered:
            caught.lost = False
            raise Interrupted(caught.signum)

    def unraisable(info: Any) -> None:
        """An Interrupted raised inside a finalizer is lost there: say nothing (no
        "Exception ignored" traceback) and raise it again at the next chance."""
        if isinstance(info.exc_value, Interrupted):
            if not caught.delivered and caught.signum is not None:
                caught.lost = True
                signal.raise_signal(caught.signum)
            return
        previous_hook(info)

    previous = {}
    for number in SIGNALS:
        if signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, handler)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = unraisable
    try:
        if held:
            handler(held[0], None)
        yield caught
    except Interrupted:
        caught.delivered = True
        raise
    finally:
        if caught.signum is None:
            for number, before in previous.items():
                signal.signal(number, before)
            sys.unraisablehook = previous_hook
        else:  # the process is ending: exit hooks run undisturbed, and past them the
            for number in previous:  # interpreter's teardown, which drops our handlers
                signal.signal(number, signal.SIG_IGN)


def say(signum: int, detail: str = "") -> None:
    """The one line on stderr: ``interrupted (SIGINT)``, after the ``^C`` a terminal
    echoes."""
    name = signal.Signals(signum).name
    start = "\n" if signum == signal.SIGINT and _tty(sys.stderr) else ""
    try:
        sys.stderr.write(f"{start}interrupted ({name}){detail}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # the terminal is gone (SIGHUP): nobody to tell
        pass


def _tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (OSError, ValueError, AttributeError):
        return False
