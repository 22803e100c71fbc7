"""Output files, written so that a reader never sees half of one and nothing is lost.

One rule for every output (``-o``, ``--plot``, ``--junit``): a regular file, or a path
that does not exist yet, is written next to its destination and moved in place
(os.replace), keeping an existing file's mode (a new one gets what the umask gives, as
with a plain open()); anything else (a device such as /dev/null, a FIFO, a terminal,
/dev/stdout or /proc/self/fd/N) is opened and written through, as the shell's ``>``
does, never replaced. A symlink is followed to its target, which is written (the link
stays). A write that fails raises :class:`OutputError`, after which the old file, if
any, is as it was and no temporary file is left.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import IO, Any

#: The folders of /proc whose entries are open file descriptors (/dev/fd, /dev/stdout).
_DESCRIPTORS = re.compile(r"^/proc/[^/]+/(task/[^/]+/)?fd$")


class OutputError(OSError):
    """An output that could not be written (disk full, folder gone, I/O error): the
    command's exit code 4. Its text names the path and the reason, for stderr."""

    def __init__(self, path: Path | str, error: OSError) -> None:
        super().__init__(error.errno, error.strerror or str(error))
        self.path = str(path)

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.strerror}"


def output_target(path: Path | str) -> tuple[Path, bool]:
    """Where writing ``path`` puts the bytes, and whether they are written through.

    Symlinks are followed one by one to the final target (which may not exist yet). A
    target that exists and is not a regular file, or a path that passes through an open
    descriptor (/dev/stdout, /proc/self/fd/1), is written through; otherwise the target
    is replaced whole. A link loop raises OSError (ELOOP).
    """
    current = os.path.abspath(path)
    for _ in range(40):
        folder, name = os.path.split(current)
        folder = os.path.realpath(folder)
        current = os.path.join(folder, name)
        if not os.path.islink(current):
            break
        if _DESCRIPTORS.match(folder):
            return Path(path), True
        current = os.path.join(folder, os.readlink(current))
    else:
        raise OSError(40, "too many levels of symbolic links", str(path))
    try:
        mode = os.stat(current).st_mode
    except FileNotFoundError:
        return Path(current), False
    return Path(current), not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def new_file_mode(existing: os.stat_result | None) -> int:
    """The mode the written file gets: an existing file's own, else what a plain open()
    would give under the umask (mkstemp's 0600 would hide reports from others)."""
    if existing is not None:
        return stat.S_IMODE(existing.st_mode)
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class Writer:
    """A stream whose failed writes raise :class:`OutputError` naming the output, so a
    full disk is told apart from any other OSError of the run."""

    def __init__(self, stream: IO[Any], name: str, pipe: bool = False) -> None:
        self.stream = stream
        self.name = name
        self.pipe = pipe  # stdout: a reader that left (``| head``) is not our failure

    def write(self, data: Any) -> int:
        try:
            return self.stream.write(data)
        except OSError as error:
            raise self._failed(error) from None

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as error:
            raise self._failed(error) from None

    def _failed(self, error: OSError) -> OSError:
        if self.pipe and isinstance(error, BrokenPipeError):
            return error
        return OutputError(self.name, error)


@contextmanager
def output_file(path: Path | str, binary: bool = False,
                newline: str | None = None) -> Iterator[Writer]:
    """Open an output for writing (see the module's rule): the file is in place, whole,
    when the block ends well; if the block raises, an old file is left as it was and
    the temporary file is removed. Failures of our own (create, write, close, rename)
    raise :class:`OutputError`."""
    target, through = output_target(path)
    existing: os.stat_result | None = None
    temporary: str | None = None
    try:
        if through:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        else:
            with suppress(FileNotFoundError):
                existing = os.stat(target)
            handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp",
                                                 prefix=f".{target.name}.")
    except OSError as error:
        raise OutputError(path, error) from None
    try:
        with ExitStack() as stack:
            stream = os.fdopen(handle, "wb" if binary else "w",
                               encoding=None if binary else "utf-8",
                               newline=None if binary else newline)
            stack.callback(_quietly_closed, stream)
            yield Writer(stream, str(path))
            stack.pop_all()
        try:
            stream.close()
            if temporary is not None:
                _keep_owner(temporary, existing)
                os.chmod(temporary, new_file_mode(existing))
                os.replace(temporary, target)
        except OSError as error:
            raise OutputError(path, error) from None
    except BaseException:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise


def _quietly_closed(stream: IO[Any]) -> None:
    """Close a stream whose block failed: that failure is the one to tell."""
    with suppress(OSError):
        stream.close()


def _keep_owner(temporary: str, existing: os.stat_result | None) -> None:
    """Give the new file the old one's owner where we may (root replacing a user's
    file), as writing into it would have kept it."""
    if existing is None or (existing.st_uid, existing.st_gid) == (os.geteuid(), os.getegid()):
        return
    with suppress(OSError):
        os.chown(temporary, existing.st_uid, existing.st_gid)


def write_file(path: Path | str, data: str | bytes) -> None:
    """Write a whole output at once (see :func:`output_file`)."""
    with output_file(path, binary=isinstance(data, bytes)) as stream:
        stream.write(data)


def same_output(first: Path | str, second: Path | str) -> bool:
    """Whether two output paths name the same file: the same target after symlinks,
    or (both existing) the same file by device and inode, hard links included."""
    try:
        if os.path.exists(first) and os.path.exists(second):
            return os.path.samefile(first, second)
        return output_target(first)[0] == output_target(second)[0]
    except OSError:
        return False


def shares_safely(path: Path | str) -> bool:
    """A file that may take two outputs at once: a character device such as /dev/null."""
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False
