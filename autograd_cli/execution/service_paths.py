"""Where the per-user service lives, and whether that place can be trusted.

Why its own module: the client, the service and ``gradcheck service`` must agree on one
directory, and each of them must refuse the same untrusted one. The directory is
``$XDG_RUNTIME_DIR/gradcheck`` (a per-user 0700 folder the login manager makes) or,
without it, ``$TMPDIR/gradcheck-<uid>`` (``/tmp`` by default), made 0700 by us. A folder
that someone else owns, that another user could write to, or that is a symlink is
refused: whoever controls the folder could put their own socket there and answer our
requests, so we would rather run without the service (and say why) than talk to it.
"""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

#: The longest path an AF_UNIX socket can be bound to (sun_path is 108 bytes on Linux).
MAX_SOCKET_PATH = 107


class Refused(Exception):
    """The service's folder cannot be trusted (or made); the run goes on without it."""


@dataclass(frozen=True)
class Place:
    """The service's folder and the files in it."""

    folder: Path

    @property
    def socket(self) -> Path:
        return self.folder / "sock"

    @property
    def lock(self) -> Path:
        """Held (flock) by the live service for its whole life: one service per user."""
        return self.folder / "lock"

    @property
    def log(self) -> Path:
        """The service's own stdout and stderr (never a client's output)."""
        return self.folder / "log"

    @property
    def starting(self) -> Path:
        """The pid of a service started but not yet listening (the client that started
        it writes it, the service removes it once its socket answers), so ``service
        stop`` right after a first run waits for it instead of missing it."""
        return self.folder / "starting"

    def starting_pid(self, patience: float = 60.0) -> int | None:
        """The service being started, if its marker is fresh and the process alive."""
        import time

        try:
            info = os.lstat(self.starting)
            if not stat.S_ISREG(info.st_mode) or time.time() - info.st_mtime > patience:
                return None
            pid = int(self.starting.read_text(encoding="ascii").strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def mark_starting(self, pid: int) -> None:
        """Write the marker whole (a temporary file renamed over it)."""
        temporary = self.folder / f"starting.{os.getpid()}"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                         0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(f"{pid}\n")
            os.replace(temporary, self.starting)
        except OSError:
            with suppress(OSError):
                os.unlink(temporary)

    def started(self, pid: int) -> None:
        """The service ``pid`` listens (or will not start): its marker goes."""
        with suppress(OSError, ValueError):
            if int(self.starting.read_text(encoding="ascii").strip()) == pid:
                os.unlink(self.starting)


def folder_for(env: dict[str, str] | os._Environ[str]) -> Path:
    """The folder named by the environment, not yet checked."""
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "gradcheck"
    return Path(env.get("TMPDIR") or "/tmp") / f"gradcheck-{os.getuid()}"


def place(env: dict[str, str] | os._Environ[str] | None = None, *, create: bool) -> Place:
    """The checked folder (made 0700 when ``create`` and missing); :class:`Refused` with
    the reason when it cannot be trusted; FileNotFoundError when it is missing and not
    to be made (no service has run)."""
    env = os.environ if env is None else env
    folder = folder_for(env)
    if env.get("XDG_RUNTIME_DIR"):
        check_folder(folder.parent, private=False)
    if len(os.fsencode(folder / "sock")) > MAX_SOCKET_PATH:
        raise Refused(f"{folder}: the path is too long for a socket")
    if create:
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        except OSError as error:
            raise Refused(f"{folder}: cannot be made: {error.strerror}") from None
    elif not os.path.lexists(folder):
        raise FileNotFoundError(folder)
    check_folder(folder, private=True)
    return Place(folder)


def check_folder(folder: Path, *, private: bool) -> None:
    """Ours, a real folder (not a symlink), and writable by nobody else; ``private``
    also readable by nobody else (mode 0700)."""
    try:
        info = os.lstat(folder)
    except OSError as error:
        raise Refused(f"{folder}: {error.strerror}") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise Refused(f"{folder} is not a folder (a symlink or a file)")
    if info.st_uid != os.getuid():
        raise Refused(f"{folder} belongs to another user (uid {info.st_uid})")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        raise Refused(f"{folder} can be written by other users (mode {mode:04o})")
    if private and mode & 0o077:
        raise Refused(f"{folder} can be read by other users (mode {mode:04o}); it must be 0700")


def check_socket(path: Path) -> None:
    """A socket of ours that only we can use (mode 0600 or stricter)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise Refused(f"{path}: {error.strerror}") from None
    if not stat.S_ISSOCK(info.st_mode):
        raise Refused(f"{path} is not a socket")
    if info.st_uid != os.getuid():
        raise Refused(f"{path} belongs to another user (uid {info.st_uid})")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise Refused(
            f"{path} can be used by other users "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); it must be 0600"
        )
