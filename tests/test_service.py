"""The per-user background service ([5/7]), through the installed ``gradcheck`` command.

Each test gets a service of its own in a private XDG_RUNTIME_DIR under tmp_path (never
the user's), turned on with GRADCHECK_SERVICE=1 (the tests run with CI set), and stops
it afterwards. A run served by the service must match a ``--no-service`` run byte for
byte (stdout, stderr, exit code, files). Backends are the cheap ones plus the fake
plugin backends of tests/fake_backends.py (a worker that computes with numpy, one
that segfaults, one that hangs), so no framework is imported.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import alive

ROOT = Path(__file__).resolve().parent.parent
GRADCHECK = Path(sys.executable).parent / "gradcheck"
PLUGINS = (
    "fake=tests.fake_backends:Square,segv=tests.fake_backends:Segfault,"
    "hang=tests.fake_backends:Hang"
)
#: A hang guard, not a timing.
PATIENCE = 60.0

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_PEERCRED"), reason="the service needs Unix sockets with SO_PEERCRED"
)


class Service:
    """Runs of the command against one private service folder."""

    def __init__(self, base: Path, **extra: str) -> None:
        self.base = base
        runtime = base / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        self.folder = runtime / "gradcheck"
        self.env = {
            "PYTHONPATH": str(ROOT),
            "XDG_RUNTIME_DIR": str(runtime),
            "GRADCHECK_SERVICE": "1",
            "GRADCHECK_SERVICE_IDLE": "120",
            "GRADCHECK_BACKENDS": "analytic,fake",
            "GRADCHECK_PLUGINS": PLUGINS,
            "FAKE_BACKENDS_DIR": str(base),
            **extra,
        }
        self.pids: set[int] = set()

    def environ(self, env: dict[str, str] | None = None) -> dict[str, str]:
        full = {**os.environ, **self.env, **(env or {})}
        full.pop("NO_COLOR", None)
        return full

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(GRADCHECK), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env=self.environ(env),
            timeout=PATIENCE,
            cwd=cwd,
        )

    def start(self, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(GRADCHECK), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.environ(),
            cwd=cwd,
        )

    def status(self) -> dict[str, Any] | None:
        """What ``gradcheck service status --format json`` says, asked on the socket
        directly (the command itself is tested once, it costs a start-up each time)."""
        found = ask({"type": "status"}, self.environ())
        if not isinstance(found, dict):
            return None
        self.pids.add(found["pid"])
        return found

    def ready(self, other_than: int | None = None) -> dict[str, Any]:
        """The running service once it has loaded what it preloads."""
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            found = self.status()
            if found is not None and not found["warming"] and found["pid"] != other_than:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no service came up; log:\n{self.log()}")

    def log(self) -> str:
        try:
            return (self.folder / "log").read_text()
        except OSError:
            return ""

    def stop(self) -> None:
        self("service", "stop")
        deadline = time.monotonic() + PATIENCE
        for pid in self.pids:
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if alive(pid):  # a service of this test's that would not stop
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"service {pid} did not stop; log:\n{self.log()}")

    def local(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``args`` run with ``--no-service`` (once per module: the output is the same)."""
        if args not in LOCAL:
            LOCAL[args] = self(*args, "--no-service")
        return LOCAL[args]

    def same_as_local(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``args`` through the service and without it: the same output."""
        served = self(*args)
        local = self.local(*args)
        assert (served.returncode, served.stdout, served.stderr) == (
            local.returncode,
            local.stdout,
            local.stderr,
        )
        return served


LOCAL: dict[tuple[str, ...], subprocess.CompletedProcess[str]] = {}


def ask(message: dict[str, Any], env: dict[str, str]) -> dict[str, Any] | str:
    """The service's answer, as ``gradcheck service`` asks it, under ``env``."""
    from unittest import mock

    from autograd_cli.cli.service import ask as asking

    with mock.patch.dict(os.environ, env, clear=True):
        return asking(message)


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service shared by the tests that only use it (started by a first run)."""
    service = Service(tmp_path_factory.mktemp("svc"))
    try:
        first = service("x**2", "--at", "3", "--backends", "analytic,fake")
        assert first.returncode == 0, first.stderr
        service.ready()
        yield service
    finally:
        service.stop()


@pytest.fixture
def own(tmp_path: Path) -> Iterator[Service]:
    service = Service(tmp_path)
    try:
        yield service
    finally:
        service.stop()


def test_the_first_run_starts_it_and_later_runs_are_served_the_same(
    warm: Service, tmp_path: Path
) -> None:
    """Served runs print what --no-service runs print; the worker stays warm."""
    before = warm.ready()
    check = ("x**2", "--at", "3", "--backends", "analytic,fake")
    served = warm.same_as_local(*check)
    assert "OK" in served.stdout
    warm.same_as_local("2x", "--at", "1")  # a usage error: caret, hint, exit 2
    assert (
        warm.same_as_local(
            "tanh(x)",
            "--at",
            "0.5",
            "--at",
            "2",
            "--dtype",
            "float64",
            "--format",
            "csv",
            "--backends",
            "analytic,finite-diff",
        ).returncode
        == 0
    )
    shown = warm("service", "status")
    assert shown.returncode == 0
    assert f"running: pid {before['pid']}," in shown.stdout
    assert f"{before['served'] + 3} request(s) served" in shown.stdout
    after = json.loads(warm("service", "status", "--format", "json").stdout)
    assert after["running"] and after["pid"] == before["pid"]
    assert after["served"] == before["served"] + 3
    assert after["workers"]["fake"] == before["workers"]["fake"]  # the warm worker, reused
    files = {}
    for how in ("served", "local"):  # a file relative to the client's folder, same bytes
        folder = tmp_path / how
        folder.mkdir()
        extra = () if how == "served" else ("--no-service",)
        done = warm("x**2", "--at", "1", "--format", "markdown", "-o", "out.md", *extra, cwd=folder)
        assert done.returncode == 0 and done.stdout == ""
        files[how] = (
            (folder / "out.md").read_bytes(),
            stat.S_IMODE((folder / "out.md").stat().st_mode),
        )
    assert files["served"] == files["local"]
    assert warm.status()["served"] == before["served"] + 4  # type: ignore[index]


def test_a_crashing_worker_is_its_row_and_is_replaced(warm: Service) -> None:
    check = ("x**2", "--at", "3", "--backends", "analytic,fake,segv")
    first = warm.same_as_local(*check)
    assert first.returncode == 3 and "crashed" in first.stdout
    late = warm.same_as_local(
        "x**2", "--at", "3", "--backends", "analytic,fake,hang", "--timeout", "1"
    )  # --timeout bounds a backend in the service
    assert late.returncode == 3 and "timeout" in late.stdout
    fake = warm.status()["workers"]["fake"]  # type: ignore[index]
    again = warm(*check)
    assert (again.returncode, again.stdout) == (3, first.stdout)
    found = warm.status()
    assert found is not None and found["workers"]["fake"] == fake


def test_ctrl_c_and_a_killed_client_leave_the_service_healthy(
    warm: Service, tmp_path: Path
) -> None:
    for signum in (signal.SIGINT, signal.SIGKILL):
        marker = warm.base / "fake_hang.pid"
        marker.unlink(missing_ok=True)
        client = warm.start(
            "x**2",
            "--at",
            "3",
            "--backends",
            "analytic,hang",
            "--timeout",
            "100",
            "-o",
            "out.md",
            cwd=tmp_path,
        )
        deadline = time.monotonic() + PATIENCE
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), warm.log()
        time.sleep(0.1)
        worker = int(marker.read_text())
        child = int((warm.base / "fake_hang.child").read_text())
        client.send_signal(signum)
        stdout, stderr = client.communicate(timeout=15)
        if signum == signal.SIGINT:
            assert (client.returncode, stdout, stderr) == (130, "", "interrupted (SIGINT)\n")
        else:
            assert client.returncode == -signal.SIGKILL
        deadline = time.monotonic() + 15
        while (alive(worker) or alive(child)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(worker) and not alive(child)
        assert list(tmp_path.iterdir()) == []  # no output, no temporary file
    warm.same_as_local("x**2", "--at", "3", "--backends", "analytic,fake")


def test_two_clients_at_once_both_get_their_answer(warm: Service) -> None:
    checks = [
        ("sin(x)", "--at", "1", "--backends", "analytic,fake"),
        ("x**3", "--at", "2", "--dtype", "float64", "--backends", "analytic,fake"),
    ]
    before = warm.status()["served"]  # type: ignore[index]
    clients = [warm.start(*check) for check in checks]
    answers = [client.communicate(timeout=PATIENCE) for client in clients]
    for check, client, (stdout, stderr) in zip(checks, clients, answers, strict=True):
        local = warm.local(*check)
        assert (client.returncode, stdout, stderr) == (local.returncode, local.stdout, local.stderr)
    assert warm.status()["served"] == before + 2  # type: ignore[index]


def test_malformed_and_oversized_messages_are_refused_harmlessly(warm: Service) -> None:
    before = warm.ready()
    frames = [
        struct.pack(">I", 1 << 30),  # oversized
        struct.pack(">I", 7) + b"not{js}",
        struct.pack(">I", 2) + b"[]",
        struct.pack(">I", 16) + b'{"type":"nope"}\n',
        struct.pack(">I", 15) + b'{"type":"run"}\n',  # a run without its fields and fds
        b"\x00\x00",  # cut short
    ]
    for frame in frames:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(15)
            conn.connect(str(warm.folder / "sock"))
            conn.sendall(frame)
            conn.shutdown(socket.SHUT_WR)
            answer = conn.recv(1 << 16)
            assert answer == b"" or b'"refused"' in answer
    after = warm.ready()
    assert after["pid"] == before["pid"] and after["served"] == before["served"]
    warm.same_as_local("x**2", "--at", "3", "--backends", "analytic")


STRANGER = """
import socket, struct, sys
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.settimeout(15)
conn.connect(sys.argv[1])
body = b'{"type":"status"}'
try:
    conn.sendall(struct.pack(">I", len(body)) + body)
    answer = conn.recv(1 << 16)
except (BrokenPipeError, ConnectionResetError):
    answer = b""
print("hung up" if answer == b"" else f"answered {answer!r}")
"""


@pytest.mark.skipif(
    os.getuid() != 0 or not Path("/usr/bin/python3").exists(),
    reason="a stranger (another uid) is made by root",
)
def test_a_stranger_is_hung_up_on_before_a_byte_is_read(warm: Service) -> None:
    """Even with the folder and socket opened up to everyone, another uid that connects
    gets nothing: the service reads the peer's uid first and hangs up."""
    warm.ready()
    sock = warm.folder / "sock"
    folder = os.open(warm.folder, os.O_PATH)  # the way in past pytest's private folders
    warm.folder.chmod(0o711)
    sock.chmod(0o666)
    try:
        stranger = subprocess.run(
            ["/usr/bin/python3", "-I", "-c", STRANGER, f"/proc/self/fd/{folder}/sock"],
            user=65534,
            group=65534,
            extra_groups=[],
            pass_fds=[folder],
            capture_output=True,
            text=True,
            timeout=PATIENCE,
            cwd="/",
        )
    finally:
        sock.chmod(0o600)
        warm.folder.chmod(0o700)
        os.close(folder)
    assert (stranger.returncode, stranger.stdout) == (0, "hung up\n"), stranger.stderr
    warm.same_as_local("x**2", "--at", "3", "--backends", "analytic")


def test_a_service_that_dies_mid_run_leaves_the_run_to_the_client(own: Service) -> None:
    """Nothing was written yet: the command runs the check itself, the same as ever."""
    own("x**2", "--at", "3", "--backends", "analytic")
    pid = own.ready()["pid"]
    check = ("x**2", "--at", "3", "--backends", "analytic,hang", "--timeout", "2")
    client = own.start(*check)
    deadline = time.monotonic() + PATIENCE
    while not (own.base / "fake_hang.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)  # the service this test started
    stdout, stderr = client.communicate(timeout=PATIENCE)
    local = own.local(*check)
    assert (client.returncode, stdout, stderr) == (3, local.stdout, local.stderr)
    assert "timeout" in stdout
    assert own.ready(other_than=pid)["served"] == 0  # and a new service took its place


def test_it_exits_when_idle(tmp_path: Path) -> None:
    service = Service(tmp_path, GRADCHECK_SERVICE_IDLE="1")
    try:
        service("x**2", "--at", "3", "--backends", "analytic")
        pid = service.ready()["pid"]
        deadline = time.monotonic() + PATIENCE
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid)
        assert not (service.folder / "sock").exists()
        assert "idle for 1 s: exiting" in service.log()
    finally:
        service.stop()


def test_an_upgrade_restarts_it(tmp_path: Path) -> None:
    """A distribution on the import path changes version (as pip upgrading one does):
    the next run is not served by the old service, which exits; a new one starts."""
    site = tmp_path / "site"
    (site / "fakeframework-1.0.dist-info").mkdir(parents=True)
    (site / "fakeframework-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fakeframework\nVersion: 1.0\n"
    )
    service = Service(tmp_path, PYTHONPATH=f"{ROOT}{os.pathsep}{site}")
    try:
        check = ("x**2", "--at", "3", "--backends", "analytic")
        service(*check)
        old = service.ready()["pid"]
        service.same_as_local(*check)
        assert service.ready()["served"] == 1
        (site / "fakeframework-1.0.dist-info").rename(site / "fakeframework-2.0.dist-info")
        assert service(*check).stdout == service.local(*check).stdout  # run here, not there
        new = service.ready(other_than=old)
        assert new["served"] == 0
        deadline = time.monotonic() + PATIENCE
        while alive(old) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(old)
        service.same_as_local(*check)
        assert service.ready()["served"] == 1
    finally:
        service.stop()


@pytest.mark.parametrize("problem", ["world-writable", "another user's", "open socket"])
def test_an_untrusted_folder_or_socket_is_refused(own: Service, problem: str) -> None:
    own.folder.mkdir(mode=0o700)
    if problem == "world-writable":
        own.folder.chmod(0o777)
        said = "can be written by other users (mode 0777)"
    elif problem == "another user's":
        if os.getuid() != 0:
            pytest.skip("only root can give a folder to another user")
        os.chown(own.folder, 65534, 65534)
        said = "belongs to another user (uid 65534)"
    else:
        planted = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        planted.bind(str(own.folder / "sock"))
        (own.folder / "sock").chmod(0o666)
        said = "can be used by other users (mode 0666)"
    check = ("x**2", "--at", "3", "--backends", "analytic")
    done = own(*check)
    local = own.local(*check)
    assert (done.returncode, done.stdout) == (local.returncode, local.stdout)
    assert said in done.stderr and done.stderr.endswith(local.stderr)
    assert own.status() is None
    assert not (own.folder / "log").exists()  # nothing was started there


def test_it_is_off_in_ci_and_when_turned_off(own: Service) -> None:
    check = ("x**2", "--at", "3", "--backends", "analytic")
    for env in ({"GRADCHECK_SERVICE": "", "CI": "true"}, {"GRADCHECK_SERVICE": "0"}):
        assert own(*check, env=env).stdout == own.local(*check).stdout
    assert not own.folder.exists()  # neither started a service (nor did --no-service)
    assert own.status() is None


@pytest.mark.parametrize(
    ("argv", "env", "use", "start"),
    [
        (["x**2", "--at", "1"], {}, True, True),
        (["x**2", "--at", "1", "--no-service"], {}, False, False),
        (["x**2", "--at", "1"], {"CI": "true"}, False, False),
        (["x**2", "--at", "1"], {"CI": "true", "GRADCHECK_SERVICE": "1"}, True, True),
        (["x**2", "--at", "1"], {"GRADCHECK_SERVICE": "off"}, False, False),
        (["x**2", "--at", "1", "-v"], {}, False, True),
        (["x**2", "--at", "1"], {"GRADCHECK_VERBOSE": "true"}, False, True),
        (["--help"], {}, False, False),
        (["suite", "a.toml", "--version"], {}, False, False),
        (["service", "status"], {}, False, False),
        (["suite", "-"], {}, False, False),
        ([], {}, False, False),
        (["x**2", "--at", "1"], {"_GRADCHECK_COMPLETE": "bash_complete"}, False, False),
        (["x**2", "--at", "1", "-o", "/proc/self/fd/1"], {}, False, False),
        (["x**2", "--at", "1", "--output=/dev/stdout"], {}, False, False),
    ],
)
def test_what_is_handed_to_the_service(
    argv: list[str], env: dict[str, str], use: bool, start: bool
) -> None:
    from autograd_cli.execution import service as client

    run = client.plan(argv, env)  # on by default, off in CI unless asked for
    assert (run.use, run.start) == (use, start)
    assert run.argv == [arg for arg in argv if arg != "--no-service"]


def test_it_compiles_every_function_in_the_background(tmp_path: Path) -> None:
    """With a real JAX: once loaded, the service runs the warm-up items while no request
    waits; a request meanwhile is served between two items, the same as a cold run; a
    stop does not wait for the rest; JAX's compiled ops land in the service's cache."""
    service = Service(tmp_path, GRADCHECK_BACKENDS="analytic,jax",
                      GRADCHECK_WARMUP="1")
    try:
        assert service("x**2", "--at", "1").returncode == 0
        ready = service.ready()
        assert ready["compiling"], service.log()
        check = ("softplus(x)*erf(x)", "--at", "0.7", "--at", "2", "--dtype", "float64")
        served = service.same_as_local(*check)
        assert "OK" in served.stdout
        found = service.status()
        assert found is not None and found["compiled"] >= 1
        shown = service("service", "status")
        assert "compiling each function in the background" in shown.stdout
        assert any((service.folder / "jax-cache").iterdir())
    finally:
        started = time.monotonic()
        service.stop()
        assert time.monotonic() - started < 30
    assert "Traceback" not in service.log()


def test_the_warm_up_covers_every_function_in_each_setting() -> None:
    from autograd_cli.execution import warmup
    from autograd_cli.expr.functions import FUNCTIONS

    items = list(warmup.requests(("analytic", "torch", "jax")))
    assert {r.backends for r in items} == {("torch", "jax")}
    settings = {(r.dtype, r.mode, r.order) for r in items}
    assert settings == set(warmup.SETTINGS)
    for setting in settings:
        texts = " ".join(r.text for r in items if (r.dtype, r.mode, r.order) == setting)
        assert all(f"{name}(" in texts for name in FUNCTIONS)
    assert list(warmup.requests(("analytic", "fake"))) == []


def test_stop_right_after_the_first_run_stops_the_service_it_started(own: Service) -> None:
    """The first run starts the service as it exits; the service listens only once it
    has started (an interpreter and its imports later). A ``service stop`` in between
    waits for it (the run leaves its pid in the folder) instead of saying "not running"
    and leaving it to run."""
    first = own("x**2", "--at", "3", "--backends", "analytic")
    assert first.returncode == 0, first.stderr
    marker = own.folder / "starting"
    with contextlib.suppress(FileNotFoundError):  # (unless it is listening already)
        assert alive(int(marker.read_text())) and (marker.stat().st_mode & 0o777) == 0o600
    stopped = own("service", "stop")
    assert stopped.returncode == 0 and stopped.stdout.startswith("stopped (pid "), (
        stopped.stdout + own.log())
    pid = int(stopped.stdout.removeprefix("stopped (pid ").rstrip(")\n"))
    assert not alive(pid) and not marker.exists()
    assert not (own.folder / "sock").exists()
    again = own("service", "stop")
    assert again.stdout.startswith("not running: ")
