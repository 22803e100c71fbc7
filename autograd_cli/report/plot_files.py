"""The --plot paths that are accepted (checked before any work starts) and saving a
figure as one of them, through :mod:`.files` (all or nothing). Imports no matplotlib."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograd_cli.report.files import output_target, write_file

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
    that holds for read-only mounts, ACLs and root alike; a FIFO or a device is written
    through, so only it must be writable. Imports no matplotlib.
    """
    path = Path(path)
    plot_format(path)
    if path.is_dir():
        raise ValueError(f"plot path '{path}' is a directory; give a file name such as "
                         f"'{path / 'sweep.png'}'")
    try:
        target, through = output_target(path)
    except OSError as err:
        raise ValueError(f"cannot write plot '{path}': {err.strerror or err}") from None
    if through:
        if not os.access(path, os.W_OK):
            raise ValueError(f"cannot write plot '{path}': it is not writable")
        return
    folder = path.parent if not os.path.islink(path) else target.parent
    if not target.parent.exists():
        raise ValueError(f"cannot write plot '{path}': folder '{folder}' does not exist")
    if not target.parent.is_dir():
        raise ValueError(f"cannot write plot '{path}': '{folder}' is not a folder")
    if target.exists() and not os.access(target, os.W_OK):
        raise ValueError(f"cannot write plot '{path}': the file exists and is not writable")
    try:
        fd, probe = tempfile.mkstemp(dir=target.parent, prefix=".gradcheck-probe-")
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

    The figure is drawn in memory (a few MB at most), then written by
    :func:`write_file`: a failure while drawing is matplotlib's, one while writing an
    :class:`OutputError`; neither leaves half a plot where an old one stood.
    """
    path = Path(path)
    fmt = plot_format(path)
    drawn = io.BytesIO()
    fig.savefig(drawn, format=fmt, dpi=dpi, metadata=_metadata(fmt))
    write_file(path, drawn.getvalue())


def _metadata(fmt: str) -> dict[str, Any]:
    """Say who made the file; drop dates so the same sweep gives the same SVG/PDF bytes."""
    if fmt == "png":
        return {"Software": "gradcheck (matplotlib)"}
    if fmt == "svg":
        return {"Creator": "gradcheck (matplotlib)", "Date": None}
    return {"Creator": "gradcheck (matplotlib)", "CreationDate": None}
