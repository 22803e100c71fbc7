"""A sweep's progress bar: on stderr, only when it is a terminal."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Progress:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""

    total: int
    enabled: bool = field(default_factory=lambda: sys.stderr.isatty())

    def __post_init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            import rich.progress as bar
            from rich.console import Console

            self._bar = bar.Progress(
                bar.TextColumn("sweep"), bar.BarColumn(), bar.MofNCompleteColumn(),
                bar.TimeElapsedColumn(), console=Console(stderr=True), transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("sweep", total=self.total)
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done)

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)
