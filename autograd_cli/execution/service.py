"""The ``gradcheck`` command's side of the per-user service: hand the run over, or run
it here and start the service for next time.

Why: a check costs about what importing TensorFlow costs, every time. A resident
service (:mod:`autograd_cli.cli.daemon`) keeps each framework's worker loaded, so a
later run only pays for this module, a socket and the comparison itself. This module
runs before click or anything heavy is imported, and everything it does is optional:
whenever the service cannot answer (none running, an untrusted folder, another
version of gradcheck or a framework, a protocol error, the service dying before it
wrote anything) the command runs here as it always did, with at most a note under
``--verbose``. A run the service has already written output for cannot be taken back;
if the service then dies, the run ends with exit code 3 and says so.

What stays here: ``--help``, ``--version``, ``gradcheck service ...``, completions, a
``-`` argument (stdin), ``--verbose`` (its workers talk on our stderr), and every run
when the service is off: ``--no-service``,
``GRADCHECK_SERVICE=0``, or ``CI`` set (one-shot jobs) without ``GRADCHECK_SERVICE=1``.

Signals: Ctrl-C (and SIGTERM, SIGHUP) is passed on to the service, which interrupts the
run the way it is interrupted here (workers killed, temporary files removed, the
``interrupted (SIGINT)`` line on our stderr), and the command exits 130 (143, 129).
If the service has not finished within :data:`PATIENCE` seconds, the command exits on
its own; the service then writes nothing more to our terminal.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from autograd_cli.core.switches import ON, on_unless_ci
from autograd_cli.execution import service_paths
from autograd_cli.execution.service_fingerprint import fingerprint
from autograd_cli.execution.service_protocol import (
    PROTOCOL,
    ProtocolError,
    peer_uid,
    receive,
    send,
)

#: The switch: 0/off/false/no or 1/on/true/yes; unset means on, unless CI is set.
VARIABLE = "GRADCHECK_SERVICE"
#: Seconds of idleness after which the service exits (read by the service at start).
IDLE_VARIABLE = "GRADCHECK_SERVICE_IDLE"
FLAG = "--no-service"
#: Arguments that mean the run is answered here (help, version, stdin).
LOCAL_ARGUMENTS = frozenset({"-h", "--help", "--version", "-"})
#: Paths that name this process's own descriptors: in the service they would be its own.
SELF_PATHS = ("/proc/self/", "/proc/thread-self/", "/dev/fd/", "/dev/stdin", "/dev/stdout",
              "/dev/stderr")
#: Seconds to wait for the service to clean up after a signal, before leaving anyway.
PATIENCE = 3.0
#: Seconds a connection may take (the service accepts at once when it is alive).
CONNECT_TIMEOUT = 2.0
EXIT_SIGNAL_BASE = 128
#: The command's exit code when the service died after writing part of the output.
EXIT_LOST = 3
SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@dataclass
class Plan:
    """What this run does with the service: ``argv`` is what click gets (``--no-service``
    removed); ``use``: hand it over; ``start``: start a service after running here."""

    argv: list[str]
    use: bool
    start: bool
    verbose: bool = False
    notes: list[str] = field(default_factory=list)


def enabled(env: dict[str, str] | os._Environ[str]) -> bool:
    """Whether the environment turns the service on (see :data:`VARIABLE`)."""
    return on_unless_ci(env, VARIABLE)


def plan(argv: list[str], env: dict[str, str] | os._Environ[str]) -> Plan:
    """Decide from the arguments and the environment alone (nothing is imported)."""
    given = [arg for arg in argv if arg != FLAG]
    verbose = bool({"-v", "--verbose"} & set(given)) or (
        env.get("GRADCHECK_VERBOSE", "").strip().lower() in ON | {"t", "y"}
    )
    if len(given) != len(argv) or not enabled(env):
        return Plan(given, False, False, verbose)
    local = (
        not given
        or given[0] == "service"
        or bool(LOCAL_ARGUMENTS & set(given))
        or any(path in arg for arg in given for path in SELF_PATHS)
        or any(name.endswith("_COMPLETE") and name.startswith("_") for name in env)
    )
    # --verbose runs here: its workers talk on stderr, and the service's write to its log
    return Plan(given, not local and not verbose, not local, verbose)


def program_name() -> str:
    """The name click shows in usage lines, worked out as click does it."""
    main = sys.modules.get("__main__")
    path = sys.argv[0] if sys.argv else ""
    package = getattr(main, "__package__", None)
    if package in (None, ""):
        return os.path.basename(path)
    module = str(package)
    name = os.path.splitext(os.path.basename(path))[0]
    if name != "__main__":
        module = f"{module}.{name}"
    return f"python -m {module.lstrip('.')}"


class _Signalled(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def forward(run: Plan, held: list[int]) -> int | None:
    """The exit code of the run as the service did it, or None: run it here."""
    try:
        where = service_paths.place(create=False)
        service_paths.check_socket(where.socket)
    except FileNotFoundError:
        return None
    except service_paths.Refused as refused:
        _warn(f"{refused}; running without it")
        run.start = False
        return None
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError:
        return None
    caught: list[int] = []
    with conn:
        code = _talk(conn, where, run, held, caught)
    if code is None and caught and not held:
        held.append(caught[0])  # the run goes on here: it ends on that signal at once
    return code


def _talk(
    conn: socket.socket,
    where: service_paths.Place,
    run: Plan,
    held: list[int],
    caught: list[int],
) -> int | None:
    armed = [False]

    def handler(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)
        if armed[0]:
            armed[0] = False
            raise _Signalled(signum)

    previous = {
        n: signal.signal(n, handler) for n in SIGNALS if signal.getsignal(n) is not signal.SIG_IGN
    }
    wrote = False
    try:
        if held:
            return None
        try:
            conn.settimeout(CONNECT_TIMEOUT)
            conn.connect(str(where.socket))
            if peer_uid(conn) != os.getuid():
                _warn(f"{where.socket} is answered by another user; running without it")
                run.start = False
                return None
            cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            if error.errno not in (errno.ENOENT, errno.ECONNREFUSED):
                _note(run, f"could not reach it ({error.strerror or error})")
            return None
        try:
            armed[0] = True
            if caught:
                raise _Signalled(caught[0])
            send(conn, _request(run), [cwd, 0, 1, 2])
        finally:
            os.close(cwd)
        conn.settimeout(None)
        while True:
            message, _ = receive(conn)
            kind = message["type"]
            if kind == "wrote":
                wrote = True
            elif kind == "done" and isinstance(message.get("exit"), int):
                armed[0] = False
                return int(message["exit"])
            else:
                armed[0] = False
                reason = str(message.get("reason", kind))
                if kind == "stale":
                    run.start = True  # the old one steps down; a new one starts after
                elif kind != "busy":
                    run.start = False
                if wrote:
                    return _lost(reason)
                _note(run, reason)
                return None
    except _Signalled as stop:
        return _interrupted(conn, stop.signum)
    except (OSError, EOFError, ProtocolError) as error:
        armed[0] = False
        reason = (
            f"the service stopped mid-run ({error})"
            if str(error)
            else "the service stopped mid-run"
        )
        if wrote:
            return _lost(reason)
        _note(run, reason)
        return None
    finally:
        armed[0] = False
        for number, before in previous.items():
            signal.signal(number, before)


def _request(run: Plan) -> dict[str, Any]:
    umask = os.umask(0o022)
    os.umask(umask)
    return {
        "type": "run",
        "protocol": PROTOCOL,
        "fingerprint": fingerprint(os.environ),
        "argv": run.argv,
        "argv0": sys.argv[0] if sys.argv else "gradcheck",
        "prog": program_name(),
        "env": dict(os.environ),
        "umask": umask,
        "streams": {name: _stream(getattr(sys, name)) for name in ("stdin", "stdout", "stderr")},
    }


def _stream(stream: Any) -> dict[str, Any]:
    """How Python set up one of our standard streams, for the service to copy."""
    return {
        "encoding": str(getattr(stream, "encoding", None) or "utf-8"),
        "errors": str(getattr(stream, "errors", None) or "strict"),
        "line_buffering": bool(getattr(stream, "line_buffering", False)),
        "write_through": bool(getattr(stream, "write_through", False)),
    }


def _interrupted(conn: socket.socket, signum: int) -> int:
    """Pass the signal on and wait a little for the service to end the run; then the
    exit code it reports (it has said ``interrupted (...)`` on our stderr), or our own."""
    for number in SIGNALS:  # further presses while the service cleans up: ignored
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, signal.SIG_IGN)
    try:
        conn.settimeout(PATIENCE)
        send(conn, {"type": "signal", "signum": int(signum)})
        while True:
            message, _ = receive(conn)
            if message["type"] == "done" and isinstance(message.get("exit"), int):
                return int(message["exit"])
    except (OSError, EOFError, ProtocolError):
        pass
    conn.close()  # the service sees us gone and writes nothing more
    name = signal.Signals(signum).name
    start = "\n" if signum == signal.SIGINT and _tty(sys.stderr) else ""
    _write(f"{start}interrupted ({name})\n")
    return EXIT_SIGNAL_BASE + int(signum)


def _lost(reason: str) -> int:
    _write(
        f"error: {reason}; the output above is incomplete. Run the command again (or with {FLAG})\n"
    )
    return EXIT_LOST


def _note(run: Plan, reason: str) -> None:
    if run.verbose:
        _write(f"note: gradcheck service: {reason}; running here\n")


def _warn(text: str) -> None:
    _write(f"warning: gradcheck service: {text} ({VARIABLE}=0 turns the service off)\n")


def _write(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (OSError, ValueError, AttributeError):
        return False


#: The service's command line: it waits for this run to end (so the service's imports
#: do not compete with this run's last moments), then becomes the service.
_DAEMON = (
    "from autograd_cli.execution.service import wait_for_parent; wait_for_parent(); "
    "import runpy; runpy.run_module('autograd_cli.cli.daemon', run_name='__main__')"
)


def wait_for_parent(patience: float = 60.0) -> None:
    """Return once the process that started us has exited (we are then adopted)."""
    import time

    parent = os.getppid()
    deadline = time.monotonic() + patience
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.02)


def start_in_background(run: Plan) -> None:
    """Start the service for the next run, detached (its own session, its output to the
    log in its folder), unless one is already running or starting. Costs a spawn; the
    service starts its work once this process has exited."""
    if not run.start:
        return
    try:
        where = service_paths.place(create=True)
    except service_paths.Refused as refused:
        _warn(f"{refused}; not started")
        return
    import fcntl

    try:
        lock = os.open(where.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # held: a service is running or starting
    finally:
        os.close(lock)
    log = os.fsencode(where.log)
    try:
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-P", "-c", _DAEMON],
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
            setsigdef=SIGNALS,
            setsigmask=(),
        )
    except OSError as error:
        _note(run, f"could not be started ({error.strerror or error})")
        return
    where.mark_starting(pid)
