"""A worker process's surroundings: its own process group, its death with the parent,
and file descriptors 1 and 2 silenced while a framework chatters.

Why its own module: how the worker sits among processes and descriptors is apart from
what it computes (:mod:`autograd_cli.execution.worker`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from multiprocessing import parent_process


@contextmanager
def silenced(enabled: bool) -> Iterator[None]:
    """Point fds 1 and 2 at /dev/null: C++ log lines (TensorFlow, absl, oneDNN) write
    to the fds directly, past anything Python could redirect."""
    if not enabled:
        yield
        return
    flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        flush()
        os.dup2(saved, 2)
        os.dup2(saved, 1)
        os.close(saved)


def flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()


def lead_process_group() -> None:
    """Our own process group: the parent can kill us with everything we started, and
    the terminal's Ctrl-C reaches only the parent, which then ends us cleanly."""
    with suppress(OSError, AttributeError):  # AttributeError: no process groups (Windows)
        os.setpgid(0, 0)


def exit_with_parent() -> None:
    """Die with the parent even if it is killed outright, so no worker hangs on."""
    parent = parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        try:
            if os.getpgid(0) == os.getpid():
                os.killpg(0, signal.SIGKILL)
        finally:
            os._exit(1)

    threading.Thread(target=watch, name="gradcheck-parent-watch", daemon=True).start()
