"""``gradcheck service status|stop``: look at and stop the per-user background service.

Both run in the command itself (never through the service) and only talk to the
socket; neither starts a service. See docs/service.md.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from typing import Any

import click

from autograd_cli.execution import service_paths
from autograd_cli.execution.service import VARIABLE, enabled
from autograd_cli.execution.service_fingerprint import fingerprint
from autograd_cli.execution.service_protocol import ProtocolError, peer_uid, receive, send

#: Seconds ``stop`` waits for the service to be gone.
STOP_WAIT = 15.0


@click.group("service")
def service_group() -> None:
    """The background service that keeps frameworks loaded between runs.

    \b
      gradcheck service status      is it running, for how long, what it has served
      gradcheck service stop        stop it (it also exits by itself when idle)

    The first run starts it; later runs hand their check to it and print the same
    output. Turn it off with --no-service or GRADCHECK_SERVICE=0 (it is off when CI is
    set, unless GRADCHECK_SERVICE=1). GRADCHECK_SERVICE_IDLE: seconds before it exits
    when unused (default 900). GRADCHECK_WARMUP=0: it does not compile every function
    in the background.
    """


@service_group.command("status")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def status_command(fmt: str) -> None:
    """Say whether the service runs, and what it holds. Exit code 0 when it runs, 1
    when it does not."""
    found = ask({"type": "status"})
    if isinstance(found, dict):
        found["current"] = found.get("fingerprint") == fingerprint(os.environ)
        found["enabled"] = enabled(os.environ)
    if fmt == "json":
        shown = found if isinstance(found, dict) else {"running": False, "reason": found}
        if isinstance(found, dict):
            shown = {"running": True, **{k: v for k, v in found.items() if k != "type"}}
        click.echo(json.dumps(shown, indent=2, sort_keys=True))
        sys.exit(0 if isinstance(found, dict) else 1)
    if not isinstance(found, dict):
        starting = _starting()
        click.echo(f"not running: {found}" if starting is None else
                   f"starting: pid {starting}, not answering yet")
        if not enabled(os.environ):
            click.echo(f"(the service is off here: {VARIABLE} or CI is set)")
        sys.exit(1)
    workers = ", ".join(f"{name} (pid {pid})" for name, pid in sorted(found["workers"].items()))
    click.echo(
        f"running: pid {found['pid']}, up {found['uptime']:.0f} s, "
        f"{found['served']} request(s) served, {found['queued']} waiting"
    )
    click.echo(
        f"idle exit: after {found['idle_exit']:g} s unused (unused for {found['idle_for']:.0f} s)"
    )
    click.echo(
        f"workers: {workers or 'none'}"
        + (" (loading the frameworks)" if found.get("warming") else "")
        + (f" (compiling each function in the background: {found['compiled']} done)"
           if found.get("compiling") else "")
    )
    click.echo(f"folder: {found['folder']} (log: {found['log']})")
    if not found["current"]:
        click.echo("stale: it runs other versions than this command; the next run restarts it")
    if found.get("stopping"):
        click.echo("stopping: it takes no new requests")


@service_group.command("stop")
def stop_command() -> None:
    """Stop the service (a request it is serving is finished first). Exit code 0 also
    when none was running."""
    found = ask({"type": "stop"})
    starting = None if isinstance(found, dict) else _starting()
    deadline = time.monotonic() + STOP_WAIT
    while starting and not isinstance(found, dict) and time.monotonic() < deadline:
        time.sleep(0.05)  # started by the last run, not listening yet: it soon will
        found = ask({"type": "stop"})
        if not _alive(starting):
            break
    if not isinstance(found, dict):
        click.echo(f"not running: {found}")
        return
    pid = int(found.get("pid", 0))
    deadline = time.monotonic() + STOP_WAIT
    while pid and time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if pid and _alive(pid):
        click.echo(f"asked service {pid} to stop; it is still finishing", err=True)
        sys.exit(1)
    click.echo(f"stopped (pid {pid})")


def _starting() -> int | None:
    """The pid of a service being started (see service_paths.Place.starting)."""
    try:
        return service_paths.place(create=False).starting_pid()
    except (FileNotFoundError, service_paths.Refused):
        return None


def ask(message: dict[str, Any]) -> dict[str, Any] | str:
    """The service's answer to ``message``, or why there is none."""
    try:
        where = service_paths.place(create=False)
        service_paths.check_socket(where.socket)
    except FileNotFoundError:
        return "no service is running"
    except service_paths.Refused as refused:
        return str(refused)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(5.0)
            conn.connect(str(where.socket))
            if peer_uid(conn) != os.getuid():
                return f"{where.socket} is answered by another user"
            send(conn, message)
            answer, _ = receive(conn)
    except (FileNotFoundError, ConnectionRefusedError):
        return "no service is running"
    except (OSError, EOFError, ProtocolError) as error:
        return f"no answer on {where.socket} ({error or type(error).__name__})"
    return answer


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
