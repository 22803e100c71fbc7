"""-o and --plot never surprise: anything that is not a regular file (a device, a FIFO,
a terminal, /proc/self/fd/N) is written through, never replaced; a symlink is followed;
modes are kept (new files per the umask); a write that fails ends with one line and
exit code 4, the old file untouched and no temporary file left; two options naming the
same file are refused before any work. Every test runs the installed command, on
devices, FIFOs and ptys made for it in a temporary folder (never the machine's own)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GRADCHECK = Path(sys.executable).parent / "gradcheck"
Run = Callable[..., subprocess.CompletedProcess[str]]

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="mknod and mount need root")

POINT = ("tanh(x)", "--at", "1", "--backends", "analytic", "--format", "json")
SWEEP = ("tanh(x)", "--range", "-1", "1", "--num", "21", "--backends", "analytic")
BIG_CSV = ("tanh(x)", "--range", "-5", "5", "--num", "20001", "--backends", "analytic",
           "--format", "csv")  # about 1.2 MB: more than a pipe holds


def leftovers(folder: Path, name: str) -> list[str]:
    """Temporary files of output ``name`` (``.name.XXXX.tmp``) left in ``folder``."""
    return [p.name for p in folder.iterdir() if p.name.startswith(f".{name}")]


def one_clean_line(stderr: str, *words: str) -> None:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr, stderr
    for word in words:
        assert word in errors[0], stderr


def device(folder: Path, name: str, minor: int) -> Path:
    """A memory device (1,3 null; 1,7 full) made for the test."""
    path = folder / name
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    path.chmod(0o666)  # whatever the umask: a device that is written to keeps it
    return path


@contextmanager
def reader(fifo: Path, keep: int | None = None) -> Iterator[list[bytes]]:
    """Read a FIFO in a thread; with ``keep`` bytes, close it early (the writer then
    gets a broken pipe)."""
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as stream:
            got.append(stream.read(keep) if keep is not None else stream.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    yield got
    thread.join(30)


# --- write through --------------------------------------------------------------------

@needs_root
def test_a_device_is_written_through_never_replaced(gradcheck: Run, tmp_path: Path) -> None:
    null = device(tmp_path, "null", 3)
    result = gradcheck(*POINT, "-o", str(null))
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(null.stat().st_mode) and stat.S_IMODE(null.stat().st_mode) == 0o666
    assert leftovers(tmp_path, "null") == []
    assert result.stdout == ""


@needs_root
def test_a_full_device_is_exit_4_and_stays_a_device(gradcheck: Run, tmp_path: Path) -> None:
    full = device(tmp_path, "full", 7)
    for args in (POINT, BIG_CSV, (*SWEEP, "--format", "json", "--arrays")):
        result = gradcheck(*args, "-o", str(full))
        assert result.returncode == 4, result.stderr
        one_clean_line(result.stderr, str(full), "No space left on device")
        assert stat.S_ISCHR(full.stat().st_mode)
        assert leftovers(tmp_path, "full") == []


@needs_root
def test_stdout_on_a_full_device_is_exit_4(tmp_path: Path) -> None:
    full = device(tmp_path, "full", 7)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (POINT, BIG_CSV):
        with open(full, "w") as stdout:
            result = subprocess.run([str(GRADCHECK), *args], stdout=stdout, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, text=True, env=env, timeout=120)
        assert result.returncode == 4, result.stderr
        one_clean_line(result.stderr, "stdout", "No space left on device")


def test_a_fifo_is_written_through(gradcheck: Run, tmp_path: Path) -> None:
    expected = gradcheck(*BIG_CSV)
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    with reader(fifo) as got:
        result = gradcheck(*BIG_CSV, "-o", str(fifo))
    assert result.returncode == expected.returncode == 0, result.stderr
    assert got[0].decode() == expected.stdout
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert leftovers(tmp_path, "out.csv") == []


def test_a_fifo_takes_the_plot(gradcheck: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "plot.svg"
    os.mkfifo(fifo)
    with reader(fifo) as got:
        result = gradcheck(*SWEEP, "--plot", str(fifo))
    assert result.returncode == 0, result.stderr
    assert got[0].startswith(b"<?xml") and got[0].rstrip().endswith(b"</svg>")
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_terminal_is_written_through(gradcheck: Run, tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        tty = os.ttyname(slave)
        result = gradcheck(*POINT, "-o", tty)
        os.set_blocking(master, False)
        text = b""
        try:
            while chunk := os.read(master, 65536):
                text += chunk
        except BlockingIOError:
            pass
    finally:
        os.close(master)
        os.close(slave)
    assert result.returncode == 0, result.stderr
    assert b'"derivative"' in text
    assert result.stdout == ""


def test_a_descriptor_path_is_written_through(gradcheck: Run) -> None:
    expected = gradcheck(*POINT)
    for path in ("/proc/self/fd/1", "/dev/stdout"):
        if not os.path.exists(path):
            continue
        result = gradcheck(*POINT, "-o", path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == expected.stdout


def test_a_symlink_is_followed_and_kept(gradcheck: Run, tmp_path: Path) -> None:
    folder = tmp_path / "real"
    folder.mkdir()
    target = folder / "report.json"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "report.json"
    link.symlink_to(target)
    result = gradcheck(*POINT, "-o", str(link))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and link.resolve() == target
    assert '"derivative"' in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert leftovers(tmp_path, "report.json") == leftovers(folder, "report.json") == []
    dangling = tmp_path / "new.csv"
    dangling.symlink_to(folder / "made.csv")
    result = gradcheck(*SWEEP, "--format", "csv", "-o", str(dangling))
    assert result.returncode == 0, result.stderr
    assert dangling.is_symlink() and (folder / "made.csv").read_text().startswith("x,f,")


# --- modes ----------------------------------------------------------------------------

@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("args, name", [
    (POINT, "p.json"),
    ((*SWEEP, "--format", "csv"), "s.csv"),
    (SWEEP, "t.txt"),
])
def test_modes_kept_and_new_files_per_umask(gradcheck: Run, tmp_path: Path,
                                            args: tuple[str, ...], name: str) -> None:
    out = tmp_path / name
    with umask(0o002):
        result = gradcheck(*args, "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert stat.S_IMODE(out.stat().st_mode) == 0o664
        out.chmod(0o604)
        result = gradcheck(*args, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o604
    assert leftovers(tmp_path, name) == []


def test_plot_mode_kept_and_new_plot_per_umask(gradcheck: Run, tmp_path: Path) -> None:
    plot = tmp_path / "p.svg"
    with umask(0o027):
        assert gradcheck(*SWEEP, "--plot", str(plot)).returncode == 0
        assert stat.S_IMODE(plot.stat().st_mode) == 0o640
        plot.chmod(0o600)
        assert gradcheck(*SWEEP, "--plot", str(plot)).returncode == 0
    assert stat.S_IMODE(plot.stat().st_mode) == 0o600


# --- writes that fail: exit 4, nothing lost, nothing left -----------------------------

def test_a_reader_that_leaves_early_is_exit_4(gradcheck: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    with reader(fifo, keep=10) as got:
        result = gradcheck(*BIG_CSV, "-o", str(fifo))
    assert got[0] == b"x,f,exact,"
    assert result.returncode == 4, result.stderr
    one_clean_line(result.stderr, str(fifo), "Broken pipe")
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_plot_reader_that_leaves_early_is_exit_4(gradcheck: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "plot.svg"
    os.mkfifo(fifo)
    table = tmp_path / "table.txt"
    with reader(fifo, keep=5) as got:
        result = gradcheck(*SWEEP, "--num", "2001", "--plot", str(fifo), "-o", str(table))
    assert got[0] == b"<?xml"
    assert result.returncode == 4, result.stderr
    one_clean_line(result.stderr, str(fifo), "Broken pipe")


def test_the_folder_removed_mid_run_is_exit_4(tmp_path: Path) -> None:
    """The CSV is streamed into a temporary file; the folder goes while it grows."""
    folder = tmp_path / "out"
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ("tanh(x)", "--range", "-5", "5", "--num", "1000001", "--backends", "analytic",
            "--format", "csv", "-o", str(folder / "big.csv"))
    process = subprocess.Popen([str(GRADCHECK), *args], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    try:
        deadline = time.monotonic() + 60
        while not leftovers(folder, "big.csv") and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        shutil.rmtree(folder)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 4, stderr
    one_clean_line(stderr, "big.csv", "No such file or directory")
    assert list(tmp_path.iterdir()) == []


@contextmanager
def small_tmpfs(folder: Path) -> Iterator[Path]:
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@needs_root
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tmpfs is Linux's")
def test_a_full_disk_is_exit_4_and_the_old_file_stays(gradcheck: Run, tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk") as disk:
        old = disk / "out.csv"
        old.write_text("old results\n")
        result = gradcheck(*BIG_CSV, "-o", str(old))
        assert result.returncode == 4, result.stderr
        one_clean_line(result.stderr, "out.csv", "No space left on device")
        assert old.read_text() == "old results\n"
        assert leftovers(disk, "out.csv") == []
        plot = disk / "plot.png"
        plot.write_bytes(b"old plot")
        (disk / "filler").write_bytes(b"\0" * 40_000)
        result = gradcheck(*SWEEP, "--plot", str(plot))
        assert result.returncode == 4, result.stderr
        one_clean_line(result.stderr, "plot.png", "No space left on device")
        assert plot.read_bytes() == b"old plot"
        assert leftovers(disk, "plot.png") == []


# --- collisions, refused before any work ----------------------------------------------

def test_plot_and_output_naming_one_file_are_refused(gradcheck: Run, tmp_path: Path) -> None:
    same = tmp_path / "same.png"
    link = tmp_path / "link.png"
    link.symlink_to(same)
    for plot, output in ((same, same), (link, same)):
        result = gradcheck(*SWEEP, "--plot", str(plot), "-o", str(output))
        assert result.returncode == 2, result.stderr
        one_clean_line(result.stderr, "--plot", "--output", "same file")
        assert "note:" not in result.stderr and result.stdout == ""
        assert sorted(p.name for p in tmp_path.iterdir()) == ["link.png"]
    same.write_bytes(b"old plot")
    hard = tmp_path / "hard.png"
    os.link(same, hard)
    result = gradcheck(*SWEEP, "--plot", str(same), "-o", str(hard))
    assert result.returncode == 2, result.stderr
    one_clean_line(result.stderr, "same file")
    assert same.read_bytes() == b"old plot"


@needs_root
def test_a_null_device_may_take_plot_and_output(gradcheck: Run, tmp_path: Path) -> None:
    null = device(tmp_path, "null", 3)
    link = tmp_path / "plot.png"
    link.symlink_to(null)
    result = gradcheck(*SWEEP, "--plot", str(link), "-o", str(null))
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(null.stat().st_mode) and link.is_symlink()


def test_a_bad_plot_path_is_still_refused_before_work(gradcheck: Run, tmp_path: Path) -> None:
    result = gradcheck(*SWEEP, "--plot", str(tmp_path / "nope" / "p.png"))
    assert result.returncode == 2
    one_clean_line(result.stderr, "does not exist")
