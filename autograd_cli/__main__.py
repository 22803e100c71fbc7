"""``python -m autograd_cli`` and the ``gradcheck`` console script.

Signals are caught from this module's first lines, before the CLI is imported (click,
numpy and our modules: a few hundred milliseconds). One that arrives in that time is
held, and ends the run as soon as :mod:`autograd_cli.cli.signals` is in place, with the
same message and exit code (128 + N) as later; without this, a Ctrl-C during start-up
would print a KeyboardInterrupt traceback from inside an import, and SIGTERM would end
the process without a word.
"""

from __future__ import annotations

import signal
from types import FrameType


def main() -> None:
    held: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, hold)
    from autograd_cli.cli import main as command

    command(held=held)


if __name__ == "__main__":
    main()
