"""``python -m autograd_cli`` and the ``gradcheck`` console script.

Signals are caught from this module's first lines, before the CLI is imported (click,
numpy and our modules: a few hundred milliseconds). One that arrives in that time is
held, and ends the run as soon as :mod:`autograd_cli.cli.signals` is in place, with the
same message and exit code (128 + N) as later; without this, a Ctrl-C during start-up
would print a KeyboardInterrupt traceback from inside an import, and SIGTERM would end
the process without a word.

Before the CLI is imported, the run is offered to the per-user background service
(:mod:`autograd_cli.execution.service`), which keeps the frameworks loaded; when there
is none, the command runs here and starts one for the next run.
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
    import os
    import sys

    from autograd_cli.execution import service

    run = service.plan(sys.argv[1:], os.environ)
    if run.use:  # a warm service answers in a fraction of a second; else run it here
        code = service.forward(run, held)
        if code is not None:
            sys.exit(code)
    from autograd_cli.cli import main as command

    try:
        command(run.argv, held=held)
    except SystemExit as done:  # not after a signal: the user stopped this, not asked more
        if not (isinstance(done.code, int) and done.code >= 128):
            service.start_in_background(run)
        raise


if __name__ == "__main__":
    main()
