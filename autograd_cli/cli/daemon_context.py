"""A client's request, put in place inside the service for the length of one run.

Why its own module: what makes a run in the service indistinguishable from a run in the
client is one job: the client's environment, current folder (its descriptor, so a
folder renamed meanwhile is still the one), umask, ``argv``, and text streams on its
own stdin, stdout and stderr, set up as the client's Python set up its own (encoding,
errors, buffering); and after the run, every one of those put back, with the signal
handlers and the unraisable hook a run may leave changed. Also here: the check that a
``run`` request is what a client sends, and reading a connection that waited in the
queue.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import stat
import sys
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any

from autograd_cli.backends.jax import CACHE_VARIABLE as JAX_CACHE
from autograd_cli.execution.service_protocol import (
    PROTOCOL,
    RUN_FDS,
    ProtocolError,
    receive,
)

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: The standard streams, set to the client's: shutil sizes a terminal from __stdout__.
STREAMS = ("stdin", "stdout", "stderr", "__stdin__", "__stdout__", "__stderr__")


class Context:
    """``with Context(...):`` the request's state is the process's; after, ours again.

    ``fds`` are the request's folder, stdin, stdout and stderr; ``notify`` is called
    before the first byte goes to stdout; ``home`` (a folder's descriptor), ``environ``
    and ``handler`` (for :data:`SIGNALS`) are what the service returns to.
    """

    def __init__(
        self,
        message: dict[str, Any],
        fds: list[int],
        notify: Callable[[], None] | None,
        home: int,
        environ: dict[str, str],
        handler: Callable[[int, FrameType | None], None],
    ) -> None:
        self.message = message
        self.fds = fds
        self.notify = notify
        self.home = home
        self.environ = environ
        self.handler = handler
        self.streams: list[io.TextIOWrapper] = []
        self.saved: dict[str, Any] = {}
        self.warnings = warnings.catch_warnings()

    def __enter__(self) -> None:
        message = self.message
        self.saved = {name: getattr(sys, name) for name in STREAMS}
        self.saved.update(argv=list(sys.argv), unraisablehook=sys.unraisablehook)
        self.warnings.__enter__()
        env = dict(message["env"])
        if JAX_CACHE in self.environ:  # for a worker that starts (again) in this request
            env[JAX_CACHE] = self.environ[JAX_CACHE]
        cwd, stdin, stdout, stderr = self.fds
        if "COLUMNS" not in env:  # rich sizes a progress bar from fds 0-2, not the client's
            size = terminal_size((stdin, stdout, stderr))
            if size is not None:
                env.update(COLUMNS=str(size[0]), LINES=str(size[1]))
        os.environ.clear()
        os.environ.update(env)
        os.fchdir(cwd)
        os.umask(int(message["umask"]))
        sys.argv = [str(message.get("argv0", "gradcheck")), *message["argv"]]
        infos = message.get("streams", {})
        self.streams = [
            _text(stdin, "r", infos.get("stdin", {})),
            _text(stdout, "w", infos.get("stdout", {}), self.notify),
            _text(stderr, "w", infos.get("stderr", {}), error_stream=True),
        ]
        for name, stream in zip(STREAMS, self.streams + self.streams, strict=True):
            setattr(sys, name, stream)

    def __exit__(self, *exc_info: object) -> None:
        for stream in self.streams:
            with contextlib.suppress(Exception):  # the client's pipe or terminal is gone
                stream.flush()
        for name in STREAMS:
            setattr(sys, name, self.saved[name])
        sys.argv = self.saved["argv"]
        sys.unraisablehook = self.saved["unraisablehook"]
        self.warnings.__exit__(None, None, None)
        for number in SIGNALS:  # a run that was interrupted leaves them ignored
            signal.signal(number, self.handler)
        os.environ.clear()
        os.environ.update(self.environ)
        os.fchdir(self.home)
        os.umask(0o077)


def check_run(message: dict[str, Any], fds: list[int]) -> None:
    """A ``run`` request is what a client sends, or it is refused."""

    def strings(value: object) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    if message.get("protocol") != PROTOCOL:
        raise ProtocolError(f"protocol {message.get('protocol')!r}, not {PROTOCOL}")
    env = message.get("env")
    streams = message.get("streams")
    if not (
        strings(message.get("argv"))
        and isinstance(message.get("fingerprint"), str)
        and isinstance(env, dict)
        and all(
            isinstance(k, str) and isinstance(v, str) and k and "=" not in k and "\0" not in k + v
            for k, v in env.items()
        )
        and isinstance(message.get("umask"), int)
        and 0 <= message["umask"] <= 0o777
        and isinstance(message.get("prog", ""), str)
        and isinstance(message.get("argv0", ""), str)
        and isinstance(streams, dict)
        and all(isinstance(streams.get(n, {}), dict) for n in ("stdin", "stdout", "stderr"))
    ):
        raise ProtocolError("a malformed run request")
    if len(fds) != RUN_FDS or not stat.S_ISDIR(os.fstat(fds[0]).st_mode):
        raise ProtocolError("a run request carries its folder and three streams")


class _Raw(io.FileIO):
    """A client's stream; ``notify`` is called once, before the first byte is written."""

    notify: Callable[[], None] | None = None

    def write(self, data: Any) -> int:
        if self.notify is not None and len(data):
            notify, self.notify = self.notify, None
            notify()
        return super().write(data)


def _text(
    fd: int,
    mode: str,
    info: dict[str, Any],
    notify: Callable[[], None] | None = None,
    error_stream: bool = False,
) -> io.TextIOWrapper:
    """A text stream on a client's descriptor, set up as the client's Python set up its
    own (encoding, errors, buffering)."""
    raw = _Raw(fd, mode, closefd=False)
    raw.notify = notify
    buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
    return io.TextIOWrapper(
        buffered,
        encoding=str(info.get("encoding") or "utf-8"),
        errors=str(info.get("errors") or ("backslashreplace" if error_stream else "strict")),
        line_buffering=bool(info.get("line_buffering", error_stream)),
        write_through=bool(info.get("write_through", False)),
    )


def terminal_size(fds: tuple[int, ...]) -> tuple[int, int] | None:
    for fd in fds:
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        return size.columns, size.lines
    return None


def gone(conn: socket.socket) -> bool:
    """The client left while its request waited (EOF pending)."""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def pending_signal(conn: socket.socket) -> int | None:
    """A signal the client sent while its request waited in the queue."""
    try:
        if not conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
            return None
    except OSError:
        return None
    try:
        message, _ = receive(conn)
    except (OSError, EOFError, ProtocolError):
        return signal.SIGTERM
    signum = message.get("signum")
    return int(signum) if message["type"] == "signal" and signum in SIGNALS else None


def exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
