"""When the exact reference must be done: the request's --timeout, enforced between
points and, in the main thread, inside one long SymPy call (SIGALRM)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class ReferenceTimeout(ValueError):
    """The exact reference ran past the request's --timeout (a ValueError: the CLI
    prints it and exits 2, a suite makes it that case's error)."""


class _Expired(BaseException):
    """Raised by SIGALRM wherever SymPy or mpmath is; a BaseException so that no
    ``except Exception`` inside them swallows it. Never leaves :meth:`Deadline.alarm`."""


class Deadline:
    """When the exact reference must be done: ``seconds`` (the request's timeout) from
    now. :meth:`check` is for loops between points; :meth:`alarm` also interrupts one
    long call (``sympy.diff`` of a huge derivative), in the main thread only."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.at = time.monotonic() + self.seconds
        #: What runs now, for the message: "sympy.diff of --order 4", ...
        self.doing = "the exact reference"

    def error(self) -> ReferenceTimeout:
        return ReferenceTimeout(
            f"the exact reference did not finish within --timeout {self.seconds:g} s "
            f"({self.doing}); lower --order, use fewer points, or raise --timeout"
        )

    def check(self) -> None:
        if time.monotonic() >= self.at:
            raise self.error()

    @contextmanager
    def alarm(self) -> Iterator[Deadline]:
        """Run the block under a SIGALRM at the deadline (the previous handler and
        timer, e.g. an outer alarm's, come back after it). Outside the main thread
        signals cannot be used: the block then relies on :meth:`check`."""
        if threading.current_thread() is not threading.main_thread() or not hasattr(
            signal, "setitimer"
        ):
            yield self
            return
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.error()

        def ring(signum: int, frame: Any) -> None:
            raise _Expired

        previous = signal.signal(signal.SIGALRM, ring)
        outer, interval = signal.setitimer(signal.ITIMER_REAL, left)
        armed = time.monotonic()
        try:
            try:
                yield self
            finally:  # the one-shot timer is spent if it rang before this line
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _Expired:
            raise self.error() from None
        finally:
            signal.signal(signal.SIGALRM, previous)
            if outer > 0:
                spent = time.monotonic() - armed
                signal.setitimer(signal.ITIMER_REAL, max(outer - spent, 1e-6), interval)
