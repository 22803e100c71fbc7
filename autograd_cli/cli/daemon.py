"""The per-user gradcheck service: one resident process that runs ``gradcheck`` commands
in-process, on a pool of workers whose frameworks stay loaded.

Why in-process: a request is the client's argv, environment, current folder, umask and
standard streams (the descriptors themselves, see :mod:`autograd_cli.execution.
service_protocol`); the service puts them in place and runs the very click command a
cold run runs, so output, files and exit code are the same, byte for byte. The only
difference is that the command finds a warm pool lent to it
(:mod:`autograd_cli.execution.service_pool`).

Requests are served one at a time, in arrival order, by the main thread (commands
change process-wide state: environment, current folder, signal handlers); the others
wait in the queue. Threads only accept connections, check the peer and read requests.

While a request runs, a watcher reads its connection: a ``signal`` message (Ctrl-C in
the client) or the client vanishing (killed) interrupts the run with that signal, in
the main thread, exactly as the signal interrupts a local run: workers computing for it
are killed, temporary files removed, a suite reports what finished. A vanished client's
descriptors are first pointed at /dev/null, so nothing more reaches its terminal. After
an interrupted run the pool is replaced (as :class:`autograd_cli.execution.warm.Session`
does) and loaded again.

The service exits after ``GRADCHECK_SERVICE_IDLE`` seconds without a request (default
900), on ``gradcheck service stop`` or SIGTERM, and steps down (no new requests; those
queued are served) when a client brings another fingerprint: new code or frameworks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from autograd_cli.backends.jax import CACHE_VARIABLE as JAX_CACHE
from autograd_cli.cli.daemon_context import (
    SIGNALS,
    Context,
    check_run,
    exit_code,
    gone,
    pending_signal,
)
from autograd_cli.execution import service_paths, warm, warmup
from autograd_cli.execution.processes import start_tracker
from autograd_cli.execution.runner import Pool
from autograd_cli.execution.service import IDLE_VARIABLE
from autograd_cli.execution.service_fingerprint import fingerprint
from autograd_cli.execution.service_pool import lend
from autograd_cli.execution.service_protocol import (
    PROTOCOL,
    RUN_FDS,
    ProtocolError,
    close_all,
    peer_uid,
    receive,
    send,
)

DEFAULT_IDLE = 900.0
#: Seconds a connection may take to send its request.
READ_TIMEOUT = 10.0
#: The log is started afresh when it grows past this.
MAX_LOG = 1 << 20
#: The first job: one real check, so the frameworks, SymPy, the special functions'
#: libraries (scipy.special: 0.3 s) and the renderers load now.
WARM_UP = ["x**2 + erf(x) + gelu(x)", "--at", "1"]


@dataclass
class Job:
    """One ``run`` request: its connection, message and descriptors (cwd, 0, 1, 2)."""

    conn: socket.socket | None
    message: dict[str, Any]
    fds: list[int]
    running: bool = False
    finished: bool = False
    gone: bool = False
    signum: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Stop:
    """Queued to end the main loop once the jobs ahead of it are served."""


class Service:
    def __init__(
        self, where: service_paths.Place, listener: socket.socket, lock: int, idle: float
    ) -> None:
        self.where = where
        self.listener = listener
        self.lock_fd = lock
        self.idle = idle
        self.fingerprint = fingerprint(os.environ, _import_path())
        self.pool = Pool([])
        self.jobs: queue.Queue[Job | _Stop] = queue.Queue()
        self.started = time.time()
        self.last = time.monotonic()
        self.served = 0
        self.stopping = False
        self.warming = True
        self.warmup: warmup.Warmup | None = None
        self.closed = False
        self.guard = threading.Lock()
        self.current: Job | None = None
        self.forwarded: set[int] = set()
        self.home = os.open(where.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        # Not in the fingerprint (taken above): the folder is ours, not the install's.
        self.environ = dict(os.environ) | {JAX_CACHE: str(where.folder / "jax-cache")}
        os.environ.update(self.environ)
        self.main_thread = threading.get_ident()

    # ------------------------------------------------------------ the main thread

    def serve(self) -> None:
        for number in SIGNALS:
            signal.signal(number, self._on_signal)
        threading.Thread(target=self._accept, name="accept", daemon=True).start()
        self._run(Job(None, {"argv": WARM_UP}, []))
        self.warming = False
        self.last = time.monotonic()
        if warm.enabled(os.environ):
            self.warmup = warmup.Warmup(tuple(self.pool.pids), _log)
        while True:
            left = self.idle - (time.monotonic() - self.last)
            if left <= 0 and self.jobs.empty():
                _log(f"idle for {self.idle:g} s: exiting")
                break
            if (self.jobs.empty() and self.warmup is not None and not self.stopping
                    and self.warmup.step(self.pool)):
                continue
            try:
                job = self.jobs.get(timeout=max(left, 0.01))
            except queue.Empty:
                continue
            if isinstance(job, _Stop):
                break
            self._run(job)
            self.last = time.monotonic()
        self.step_down()
        while not self.jobs.empty():
            late = self.jobs.get_nowait()
            if isinstance(late, Job):
                self._answer(late, {"type": "busy", "reason": "the service is stopping"})
        self.pool.close()

    def _run(self, job: Job) -> None:
        """Serve one request; its connection is answered and closed, whatever happens."""
        if job.conn is not None:
            job.signum = pending_signal(job.conn)  # Ctrl-C while it waited in the queue
            if gone(job.conn):  # and the client gave up waiting: it said so itself
                self._answer(job, None)
                return
        watcher = None
        if job.conn is not None:
            watcher = threading.Thread(target=self._watch, args=(job,), daemon=True)
        code, interrupted = self._command(job, watcher)
        self.served += int(job.conn is not None)
        if interrupted or code is None:
            self.pool.close()  # a run cut short may leave the pool mid-submission
            self.pool = Pool([])
        if code is None or (interrupted and job.signum is None):
            self._answer(job, {"type": "busy", "reason": "the service was interrupted"})
            self.jobs.put(_Stop())
            return
        self._answer(job, {"type": "done", "exit": code})
        if interrupted and job.conn is not None and not self.stopping:
            self.jobs.put(Job(None, {"argv": WARM_UP}, []))  # load the frameworks again

    def _command(self, job: Job, watcher: threading.Thread | None) -> tuple[int | None, bool]:
        """Run the command in the request's context: (exit code, whether a signal
        ended it). None: the service itself failed (the client runs it instead)."""
        from autograd_cli.cli import main as command

        code: int | None = None
        interrupted = False
        if job.conn is None:  # the warm-up: our own environment, output to nowhere
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            job.fds = [os.open(".", os.O_RDONLY | os.O_CLOEXEC), null, os.dup(null), os.dup(null)]
            job.message.update(env=self.environ, umask=0o077)
        notify = None if job.conn is None else (lambda: self._tell(job, {"type": "wrote"}))
        context = Context(job.message, job.fds, notify, self.home, self.environ, self._on_signal)
        try:
            # Started (or restarted) now, with our own stderr: multiprocessing's resource
            # tracker keeps the stderr it started with, and a client's pipe held open
            # by it would never reach EOF.
            start_tracker()
            with context:
                held = [] if job.signum is None else [job.signum]
                with job.lock:
                    job.running = True
                self.current = job
                if watcher is not None:
                    watcher.start()
                with lend(self.pool):
                    try:
                        command(
                            list(job.message["argv"]),
                            held=held,
                            prog_name=str(job.message.get("prog", "gradcheck")),
                        )
                    except SystemExit as done:
                        code = exit_code(done.code)
                    except BaseException:
                        traceback.print_exc()
                        code = 1
                interrupted = (
                    code is not None
                    and code > 128
                    and (job.signum is not None or code - 128 in SIGNALS)
                )
        except Exception:
            _log("".join(traceback.format_exc()))
            code = None
        finally:
            self.current = None
            with job.lock:
                job.running = False
                job.finished = True
                close_all(job.fds)
        return code, interrupted

    def _answer(self, job: Job, message: dict[str, Any] | None) -> None:
        if job.conn is None:
            return
        if message is not None:
            self._tell(job, message)
        with contextlib.suppress(OSError):
            job.conn.shutdown(socket.SHUT_RDWR)  # wakes the watcher
        with contextlib.suppress(OSError):
            job.conn.close()
        with job.lock:
            close_all(job.fds)

    def _tell(self, job: Job, message: dict[str, Any]) -> None:
        if job.conn is not None:
            with contextlib.suppress(OSError, ProtocolError):
                send(job.conn, message)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """Between runs: SIGTERM stops the service; a signal meant for a run that has
        just ended, SIGINT and SIGHUP are ignored."""
        if signum in self.forwarded:
            self.forwarded.discard(signum)
            return
        if signum == signal.SIGTERM:
            self.stopping = True
            self.jobs.put(_Stop())

    def step_down(self) -> None:
        """Take no more requests: the socket goes (if it is still ours), the lock too,
        so a new service may start while the queue is served."""
        with self.guard:
            self.stopping = True
            if self.closed:
                return
            self.closed = True
            with contextlib.suppress(OSError):
                os.unlink(self.where.socket)  # ours: nobody else binds while we hold the lock
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                self.listener.close()
            with contextlib.suppress(OSError):
                os.close(self.lock_fd)
        warming = self.current
        if warming is not None and warming.conn is None:
            self._interrupt(warming, signal.SIGTERM)  # no one waits for the warm-up

    # ------------------------------------------------------------ other threads

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._greet, args=(conn,), daemon=True).start()

    def _greet(self, conn: socket.socket) -> None:
        """Check the peer, read its request and queue it, or answer it here."""
        try:
            if peer_uid(conn) != os.getuid():
                conn.close()  # a stranger: not one byte of theirs is read
                return
            conn.settimeout(READ_TIMEOUT)
            message, fds = receive(conn, max_fds=RUN_FDS)
        except (OSError, EOFError, ProtocolError) as error:
            _log(f"refused a connection: {error}")
            with contextlib.suppress(OSError):
                send(conn, {"type": "refused", "reason": str(error)})
            conn.close()
            return
        kind = message["type"]
        job = Job(conn, message, fds)
        try:
            if kind == "status":
                self._answer(job, self.status())
            elif kind == "stop":
                self.step_down()
                self.jobs.put(_Stop())
                self._answer(job, {"type": "stopping", "pid": os.getpid()})
            elif kind != "run":
                raise ProtocolError(f"unknown request {kind!r}")
            else:
                check_run(message, fds)
                if message["fingerprint"] != self.fingerprint:
                    self.step_down()
                    self.jobs.put(_Stop())
                    self._answer(
                        job,
                        {
                            "type": "stale",
                            "reason": "the service runs other "
                            "versions of gradcheck or a framework; restarting",
                        },
                    )
                elif self.stopping:
                    self._answer(job, {"type": "busy", "reason": "the service is stopping"})
                else:
                    conn.settimeout(None)
                    self.jobs.put(job)
        except ProtocolError as error:
            _log(f"refused a request: {error}")
            self._answer(job, {"type": "refused", "reason": str(error)})

    def _watch(self, job: Job) -> None:
        """During the run: a ``signal`` message interrupts it; EOF (the client was
        killed or gave up) silences its streams, then interrupts it."""
        assert job.conn is not None
        while True:
            try:
                message, _ = receive(job.conn)
                signum = message.get("signum") if message["type"] == "signal" else None
                if signum not in SIGNALS:
                    continue
            except (OSError, EOFError, ProtocolError):
                with job.lock:
                    if job.finished:
                        return
                    job.gone = True
                    null = os.open(os.devnull, os.O_RDWR)
                    for fd in job.fds[1:]:
                        with contextlib.suppress(OSError):
                            os.dup2(null, fd, inheritable=False)
                    os.close(null)
                signum = signal.SIGTERM
            self._interrupt(job, int(signum))
            return

    def _interrupt(self, job: Job, signum: int) -> None:
        """End the run the way ``signum`` ends a local one (in the main thread)."""
        with job.lock:
            if job.finished or job.signum is not None:
                return
            job.signum = signum
            if job.running:
                self.forwarded.add(signum)
                signal.pthread_kill(self.main_thread, signum)

    def status(self) -> dict[str, Any]:
        try:
            workers = dict(self.pool.pids)
        except RuntimeError:  # the main thread changed the pool meanwhile
            workers = {}
        return {
            "type": "status",
            "pid": os.getpid(),
            "protocol": PROTOCOL,
            "fingerprint": self.fingerprint,
            "uptime": time.time() - self.started,
            "served": self.served,
            "queued": self.jobs.qsize(),
            "idle_exit": self.idle,
            "warming": self.warming,
            "compiling": self.warmup is not None and self.warmup.running,
            "compiled": 0 if self.warmup is None else self.warmup.done,
            "idle_for": time.monotonic() - self.last,
            "stopping": self.stopping,
            "workers": workers,
            "folder": str(self.where.folder),
            "log": str(self.where.log),
        }


def _import_path() -> list[str]:
    """``sys.path`` as the client's fingerprint sees it (without the script's folder)."""
    return list(sys.path) if sys.flags.safe_path else sys.path[1:]


def _log(text: str) -> None:
    """A line in the service's log (its own fd 2: never a client's stream)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with contextlib.suppress(OSError):
        os.write(2, f"{stamp} [{os.getpid()}] {text.rstrip()}\n".encode(errors="replace"))


def main() -> None:
    """``python -m autograd_cli.cli.daemon``, as started by the client (detached, its
    output to the log). Exits at once when another service holds the lock."""
    try:
        where = service_paths.place(create=True)
    except service_paths.Refused as refused:
        _log(f"not started: {refused}")
        sys.exit(1)
    os.chdir(where.folder)
    os.umask(0o077)
    lock = os.open(where.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        where.started(os.getpid())
        sys.exit(0)  # another service runs or starts
    with contextlib.suppress(OSError):
        if os.fstat(1).st_size > MAX_LOG:
            os.ftruncate(1, 0)
    try:
        idle = float(os.environ.get(IDLE_VARIABLE, DEFAULT_IDLE))
    except ValueError:
        idle = DEFAULT_IDLE
    with contextlib.suppress(FileNotFoundError):
        os.unlink(where.socket)  # a dead service's: we hold the lock
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(where.socket))
    os.chmod(where.socket, 0o600)
    listener.listen(64)
    where.started(os.getpid())
    _log(f"serving on {where.socket} (idle exit after {idle:g} s)")
    Service(where, listener, lock, idle).serve()
    _log("stopped")
    os._exit(0)


if __name__ == "__main__":
    main()
