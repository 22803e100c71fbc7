"""The fault harness: signals at each phase of a run and a worker killed mid-chunk,
injected into the installed ``gradcheck`` command.

Every fault must end with its documented exit code (128 + N for a signal, 3 for a
backend that died), one line on stderr and no traceback, and leave nothing behind: no
temp file beside the output (``.out.csv.*``), no shared-memory block of the command's
(``/dev/shm/gradcheck_<pid>_*``), no process it started, and any existing output file
as it was.

Phases are reached by watching for what the command does, never by sleeping: its
signal handlers appearing in /proc (start-up), a worker process appearing (workers
loading), rows in the output's temp file (mid-sweep), stdout's pipe full (writing). The
three commands of a phase (one per signal) run side by side, so the whole harness
costs about one sweep per phase. Ctrl-C is sent to the command's process group, as a
terminal does; SIGHUP too (a terminal that closes); SIGTERM to the command alone (kill,
a CI runner).
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from processes import alive

from autograd_cli.report.common import EXIT_BACKEND_FAILED, EXIT_SIGNAL_BASE

ROOT = Path(__file__).resolve().parent.parent
GRADCHECK = Path(sys.executable).parent / "gradcheck"
SHM = Path("/dev/shm")
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
OLD = "an earlier output that must survive\n"
#: Two chunks of the sweep: a signal after the first chunk's rows is mid-way.
SWEEP = ("2*x**3+4*x**2+5*x+6", "--range", "-4", "4", "--num", "2e6",
         "--backends", "analytic,torch", "--format", "csv")
#: Anything past the markers below takes at least this long; a hang guard, not a timing.
PATIENCE = 180.0

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(),
                                reason="watches processes through /proc")


@dataclass
class Command:
    """One ``gradcheck`` run in its own process group (as a shell job), and what it
    had started when the fault was injected."""

    signum: int
    folder: Path
    process: subprocess.Popen[str]
    #: Ctrl-C pressed again this many times after the first, 50 ms apart.
    repeat: int = 0
    started: list[int] = field(default_factory=list)
    workers: list[int] = field(default_factory=list)
    #: The worker SIGKILL is for.
    victim: int = 0
    stdout: str = ""
    stderr: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, signum: int) -> None:
        """SIGTERM to the command alone; SIGINT and SIGHUP to its group, as a terminal.
        SIGKILL is for a worker: the one noted by the hanging backend."""
        self.started = descendants(self.pid)
        self.workers = workers(self.pid)
        if signum == signal.SIGKILL:
            os.kill(self.victim, signum)
        elif signum == signal.SIGTERM:
            os.kill(self.pid, signum)
        else:
            os.killpg(self.pid, signum)
        for _ in range(self.repeat):
            time.sleep(0.05)
            os.killpg(self.pid, signal.SIGINT)

    def finish(self) -> None:
        self.stdout, self.stderr = self.process.communicate(timeout=PATIENCE)


def launch(folder: Path, signum: int, *args: str, env: dict[str, str] | None = None,
           output: bool = True) -> Command:
    folder.mkdir(parents=True, exist_ok=True)
    if output:
        (folder / "out.csv").write_text(OLD)
    process = subprocess.Popen(
        [str(GRADCHECK), *args, *(("-o", "out.csv") if output else ())],
        cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    return Command(signum, folder, process)


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def descendants(pid: int) -> list[int]:
    found = children(pid)
    for child in list(found):
        found += descendants(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def workers(pid: int) -> list[int]:
    """The command's worker processes (spawned by multiprocessing)."""
    return [c for c in children(pid) if "spawn_main" in cmdline(c)]


def handlers_installed(pid: int) -> bool:
    """Whether the process catches SIGTERM: the command's first lines installed its
    handlers (Python alone catches only SIGINT)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = int(next(line for line in status.splitlines() if line.startswith("SigCgt:"))
               .split()[1], 16)
    return bool(mask >> (signal.SIGTERM - 1) & 1)


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".out.csv"))


def blocks(pid: int) -> list[str]:
    if not SHM.is_dir():
        return []
    return sorted(p.name for p in SHM.iterdir() if p.name.startswith(f"gradcheck_{pid}_"))


def pending(stream: object) -> int:
    """Bytes written into a pipe and not yet read."""
    raw = fcntl.ioctl(stream.fileno(), termios.FIONREAD, b"\0\0\0\0")  # type: ignore[attr-defined]
    return int(struct.unpack("i", raw)[0])


def inject(commands: Sequence[Command], ready: Callable[[Command], bool]) -> None:
    """Send each command its signal as soon as ``ready`` says it is in the phase, then
    wait for all of them to end."""
    waiting = list(commands)
    deadline = time.monotonic() + PATIENCE
    while waiting:
        for command in list(waiting):
            if ready(command):
                command.send(command.signum)
                waiting.remove(command)
            elif command.process.poll() is not None:
                command.finish()
                pytest.fail(f"ended (exit {command.process.returncode}) before the fault "
                            f"could be injected: {command.stderr[-2000:]}")
        if time.monotonic() > deadline:
            for command in waiting:
                os.killpg(command.pid, signal.SIGKILL)
            pytest.fail("the phase was never reached")
        time.sleep(0.02)
    for command in commands:
        command.finish()


def assert_clean_exit(command: Command, code: int, said: str | None) -> None:
    """The exit code, the message (the last line on stderr) and no traceback, nothing
    left behind."""
    err = command.stderr
    assert command.process.returncode == code, err[-3000:]
    for noise in ("Traceback", "Exception ignored", "leaked", "resource_tracker", "Aborted"):
        assert noise not in err, err[-3000:]
    if said is not None:
        assert err.strip().splitlines()[-1:] == [said], err[-3000:]
    assert temp_files(command.folder) == []
    assert blocks(command.pid) == []
    deadline = time.monotonic() + 15.0  # the resource tracker ends once it reads EOF
    while any(alive(pid) for pid in command.started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in command.started if alive(pid)] == []


def assert_interrupted(command: Command) -> None:
    name = signal.Signals(command.signum).name
    assert_clean_exit(command, EXIT_SIGNAL_BASE + command.signum, f"interrupted ({name})")
    if (command.folder / "out.csv").exists():
        assert (command.folder / "out.csv").read_text() == OLD


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_at_start_up_ends_the_run_with_128_plus_n(tmp_path: Path, signum: int) -> None:
    command = launch(tmp_path, signum, *SWEEP)
    inject([command], lambda c: handlers_installed(c.pid))
    assert_interrupted(command)
    assert command.stdout == ""


def test_a_signal_while_the_workers_load(tmp_path: Path) -> None:
    commands = [launch(tmp_path / s.name, s, *SWEEP) for s in SIGNALS]
    inject(commands, lambda c: bool(workers(c.pid)))
    for command in commands:
        assert command.workers, "the phase is defined by a worker being there"
        assert_interrupted(command)


def test_ctrl_c_while_a_worker_interpreter_is_still_starting(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole group, the worker too, possibly before its interpreter
    has set SIGINT aside: without SIGINT blocked through its start it died printing
    "Fatal Python error: init_sys_streams" and a traceback (13 runs in 30 did)."""
    seen: dict[int, float] = {}

    def worker_started_ms_ago(delay: float) -> Callable[[Command], bool]:
        def ready(command: Command) -> bool:
            if command.pid not in seen and workers(command.pid):
                seen[command.pid] = time.monotonic()
            return command.pid in seen and time.monotonic() - seen[command.pid] >= delay
        return ready

    for delay in (0.0, 0.01, 0.03, 0.06):
        command = launch(tmp_path / f"d{delay}", signal.SIGINT, *SWEEP)
        inject([command], worker_started_ms_ago(delay))
        assert_interrupted(command)


def test_a_signal_mid_sweep_removes_the_half_written_output(tmp_path: Path) -> None:
    """Rows of the first chunk are in the temp file, the second chunk is to come. Ctrl-C
    is pressed four times: the later ones must not cut the cleanup short."""
    header = len("x,f,exact,analytic,analytic_abs_error,analytic_ulp_error,torch,"
                 "torch_abs_error,torch_ulp_error,label\n")

    def rows_written(command: Command) -> bool:
        temp = temp_files(command.folder)
        try:
            return bool(temp) and (command.folder / temp[0]).stat().st_size > header
        except OSError:
            return False

    commands = [launch(tmp_path / s.name, s, *SWEEP) for s in SIGNALS]
    commands[0].repeat = 3
    inject(commands, rows_written)
    for command in commands:
        assert command.workers
        assert_interrupted(command)


def test_a_signal_while_blocked_writing_to_stdout(tmp_path: Path) -> None:
    """stdout is a pipe nobody reads yet: once it is full the command is stuck in a
    write, whatever the machine's speed, until the signal."""
    sweep = [*SWEEP[:5], "3e5", *SWEEP[6:]]
    commands = [launch(tmp_path / s.name, s, *sweep, output=False) for s in SIGNALS]
    inject(commands, lambda c: pending(c.process.stdout) >= 60_000)
    for command in commands:
        assert_interrupted(command)
        assert command.stdout.startswith("x,f,exact,")
        assert len(command.stdout.splitlines()) < 300_000  # cut short


def test_a_worker_killed_mid_chunk_is_a_row_and_the_output_is_whole(tmp_path: Path) -> None:
    """The worker's pid is found among the command's children while it computes (the
    hanging backend notes its pid once it has its chunk); SIGKILL makes its backend a
    crashed row, exit 3, and the sweep's CSV is written whole."""
    plugins = {"GRADCHECK_PLUGINS": "hang=tests.fake_backends:Hang",
               "FAKE_BACKENDS_DIR": str(tmp_path)}
    command = launch(tmp_path / "run", signal.SIGKILL, "2*x**3+4*x**2+5*x+6", "--range",
                     "-4", "4", "--num", "1001", "--backends", "analytic,torch,hang",
                     "--format", "csv", env=plugins)
    note = tmp_path / "fake_hang.pid"

    def computing(c: Command) -> bool:
        noted = note.read_text() if note.is_file() else ""
        if noted.isdigit() and int(noted) in workers(c.pid):
            c.victim = int(noted)
        return c.victim != 0

    inject([command], computing)
    assert command.victim in command.workers and len(command.workers) == 2  # torch, hang
    assert_clean_exit(command, EXIT_BACKEND_FAILED, None)
    rows = (command.folder / "out.csv").read_text().splitlines()
    assert len(rows) == 1 + 1001
    header = rows[0].split(",")
    assert header[:5] == ["x", "f", "exact", "noise_floor", "analytic"] and "hang" in header
    hang = header.index("hang")
    torch = header.index("torch")
    assert all(row.split(",")[hang] == "" and row.split(",")[torch] != "" for row in rows[1:])
    assert not alive(int((tmp_path / "fake_hang.child").read_text()))  # killed with its group
