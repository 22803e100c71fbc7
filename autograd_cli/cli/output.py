"""Where the command's words go: results to stdout or a file (replaced whole, never
half-written; a device, FIFO or terminal written through), user errors to stderr with
exit code 2, an output that could not be written with exit code 4, and paths refused
before any work starts. The file rule itself is :mod:`autograd_cli.report.plot_files`'
(one for -o, --plot and --junit)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from autograd_cli.report.common import EXIT_OUTPUT, EXIT_USAGE
from autograd_cli.report.files import (
    OutputError,
    Writer,
    output_target,
    same_output,
    shares_safely,
    write_file,
)


def fail(message: str) -> Any:
    """A user error: the message on stderr, exit code 2, no traceback."""
    click.echo(message, err=True)
    sys.exit(EXIT_USAGE)


def output_failed(error: OutputError) -> NoReturn:
    """The results could not be written: one line on stderr, exit code 4."""
    click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_OUTPUT)


def check_writable(path: Path, option: str = "--output") -> None:
    """Refuse an output path before any work starts, not after minutes of it. A
    symlink is judged by its target; a device or FIFO (written through) only needs to
    be writable itself."""
    if path.is_dir():
        fail(f"error: {option} {path}: is a folder")
    try:
        target, through = output_target(path)
    except OSError as error:
        fail(f"error: {option} {path}: {error.strerror or error}")
    if through:
        if not os.access(path, os.W_OK):
            fail(f"error: {option} {path}: not writable")
        return
    shown = path.parent if not os.path.islink(path) else target.parent
    folder = shown if str(shown) else Path(".")
    if not target.parent.is_dir():
        fail(f"error: {option} {path}: folder {folder} does not exist")
    if not os.access(target.parent, os.W_OK) or (
            target.exists() and not os.access(target, os.W_OK)):
        fail(f"error: {option} {path}: not writable")


def check_distinct(outputs: Sequence[tuple[str, Path | None]]) -> None:
    """Refuse two options that would write the same file (``--plot a.png -o a.png``,
    through a symlink or a hard link too), before any work starts. A character device
    such as /dev/null may take both."""
    given = [(option, path) for option, path in outputs if path is not None]
    for i, (first, one) in enumerate(given):
        for second, other in given[i + 1:]:
            assert one is not None and other is not None
            if same_output(one, other) and not shares_safely(one):
                fail(f"error: {first} {one} and {second} {other} name the same file; "
                     "give each its own")


def write_output(text: str, path: Path | None) -> None:
    """stdout, or the file replaced whole: a reader never sees half an output. A write
    that fails ends the command with exit code 4 (:func:`output_failed`)."""
    try:
        if path is None:
            stream = Writer(sys.stdout, "stdout", pipe=True)
            stream.write(text)
            stream.flush()
            return
        write_file(path, text)
    except OutputError as error:
        output_failed(error)


def terminal_width(output: Path | None) -> int | None:
    """The terminal's width when the table goes to one (tables then fold to fit it);
    None for a pipe or a file (tables keep their natural width)."""
    if output is not None or not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns
