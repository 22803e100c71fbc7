"""Where the command's words go: results to stdout or a file (replaced whole, never
half-written), user errors to stderr with exit code 2, and paths refused before any
work starts."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from autograd_cli.report.common import EXIT_USAGE


def fail(message: str) -> Any:
    """A user error: the message on stderr, exit code 2, no traceback."""
    click.echo(message, err=True)
    sys.exit(EXIT_USAGE)


def check_writable(path: Path, option: str = "--output") -> None:
    """Refuse an output path before any work starts, not after minutes of it."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        fail(f"error: {option} {path}: folder {folder} does not exist")
    if path.is_dir():
        fail(f"error: {option} {path}: is a folder")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"error: {option} {path}: not writable")


def write_output(text: str, path: Path | None) -> None:
    """stdout, or the file replaced whole: a reader never sees half an output."""
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def terminal_width(output: Path | None) -> int | None:
    """The terminal's width when the table goes to one (tables then fold to fit it);
    None for a pipe or a file (tables keep their natural width)."""
    if output is not None or not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns
