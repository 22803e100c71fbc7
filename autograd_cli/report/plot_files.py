"""Plot files: which --plot paths are accepted (checked before any work starts), and
writing a figure all or nothing, with the mode a plain open() would give and no dates
in SVG/PDF (the same sweep gives the same bytes). Imports no matplotlib."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: File extensions --plot accepts; the format follows the extension.
PLOT_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")


PNG_DPI = 150


def validate_plot_path(path: Path | str) -> None:
    """Reject a --plot path that could not be written, before any work starts.

    Raises ValueError with a message fit for the user: unsupported extension, a
    directory, a missing folder, a folder or an existing file we may not write.
    Writability is probed by creating (and removing) a file, which is the only answer
    that holds for read-only mounts, ACLs and root alike. Imports no matplotlib.
    """
    path = Path(path)
    plot_format(path)
    if path.is_dir():
        raise ValueError(f"plot path '{path}' is a directory; give a file name such as "
                         f"'{path / 'sweep.png'}'")
    folder = path.parent
    if not folder.exists():
        raise ValueError(f"cannot write plot '{path}': folder '{folder}' does not exist")
    if not folder.is_dir():
        raise ValueError(f"cannot write plot '{path}': '{folder}' is not a folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"cannot write plot '{path}': the file exists and is not writable")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".gradcheck-probe-")
    except OSError as err:
        reason = err.strerror or str(err)
        raise ValueError(f"cannot write plot '{path}': folder '{folder}' is not writable "
                         f"({reason})") from None
    os.close(fd)
    os.unlink(probe)


def plot_format(path: Path) -> str:
    """The file format named by the extension, or a ValueError saying which are allowed."""
    suffix = path.suffix.lower().lstrip(".")
    allowed = ", ".join(f".{f}" for f in PLOT_FORMATS)
    if not suffix:
        raise ValueError(f"plot path '{path}' has no extension; use one of {allowed}")
    if suffix not in PLOT_FORMATS:
        raise ValueError(f"unsupported plot format '.{suffix}' in '{path}'; use one of "
                         f"{allowed}")
    return suffix


def save_figure(fig: Figure, path: Path | str, dpi: int = PNG_DPI) -> None:
    """Write ``fig`` in the format its extension names, all or nothing.

    The file is written next to its destination and moved in place with os.replace, so a
    crash or a full disk never leaves a half-written plot where an old one stood.
    """
    path = Path(path)
    fmt = plot_format(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format=fmt, dpi=dpi, metadata=_metadata(fmt))
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _metadata(fmt: str) -> dict[str, Any]:
    """Say who made the file; drop dates so the same sweep gives the same SVG/PDF bytes."""
    if fmt == "png":
        return {"Software": "gradcheck (matplotlib)"}
    if fmt == "svg":
        return {"Creator": "gradcheck (matplotlib)", "Date": None}
    return {"Creator": "gradcheck (matplotlib)", "CreationDate": None}


def _new_file_mode(path: Path) -> int:
    """The mode a plain open() would give (mkstemp's 0600 would hide reports from others)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
