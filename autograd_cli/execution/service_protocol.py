"""The service's wire format: JSON objects, each behind a 4-byte length, on a Unix socket.

Why data and not pickles: whatever reaches the service is only read, never executed, so
a confused or hostile peer can at worst be refused. Every frame is bounded
(:data:`MAX_FRAME`), must be a JSON object with a known ``type``, and a frame that is
not is a :class:`ProtocolError` for that one connection only. The peer's uid is read
from the kernel (``SO_PEERCRED``) before anything it sent is read.

A ``run`` request also carries four file descriptors (``SCM_RIGHTS``): the client's
current folder and its stdin, stdout and stderr. The service writes the command's
output straight to them, so a terminal stays a terminal (colour, width, progress bar),
a pipe a pipe and a file a file, byte for byte what the command writes when run itself.

Messages (``type``): client to service ``run`` (then possibly ``signal``), ``status``,
``stop``; service to client ``wrote`` (the first byte went to stdout), ``done`` (with
the exit code), ``stale`` (the service is of other code: run it yourself), ``busy``
(stopping: run it yourself), ``refused`` (a bad request), ``status``, ``stopping``.
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import socket
import struct
from typing import Any

#: Bumped when a message changes; a mismatch reads as a stale service.
PROTOCOL = 1
#: The largest frame either side accepts (a request holds argv and the environment).
MAX_FRAME = 1 << 20
#: File descriptors a ``run`` request carries: cwd, stdin, stdout, stderr.
RUN_FDS = 4
_HEADER = struct.Struct(">I")
#: Received descriptors are closed on exec: no child of the service inherits them.
_CLOEXEC = getattr(socket, "MSG_CMSG_CLOEXEC", 0)


class ProtocolError(Exception):
    """A frame that is malformed, oversized, cut short or unexpected."""


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end, as the kernel tells it."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def send(conn: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    """One frame, with ``fds`` attached to its first byte."""
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"a frame of {len(body)} bytes is over the limit")
    data = _HEADER.pack(len(body)) + body
    if fds:
        rights = array.array("i", fds).tobytes()
        sent = conn.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
        data = data[sent:]
    if data:
        conn.sendall(data)


def receive(conn: socket.socket, *, max_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    """The next frame as a JSON object and the descriptors that came with it (at most
    ``max_fds``; any beyond are closed). EOFError when the peer closed cleanly between
    frames; ProtocolError for anything else that is wrong."""
    fds: list[int] = []
    try:
        header = _read(conn, _HEADER.size, fds, max_fds)
        if header is None:
            raise EOFError
        (size,) = _HEADER.unpack(header)
        if size > MAX_FRAME:
            raise ProtocolError(f"a frame of {size} bytes is over the limit of {MAX_FRAME}")
        body = _read(conn, size, fds, max_fds) if size else b""
        if body is None:
            raise ProtocolError("the frame was cut short")
        try:
            message = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ProtocolError(f"not JSON: {error}") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ProtocolError("not a message (a JSON object with a type)")
    except BaseException:
        close_all(fds)
        raise
    return message, fds


def close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()


def _read(conn: socket.socket, size: int, fds: list[int], max_fds: int) -> bytes | None:
    """Exactly ``size`` bytes (None at EOF before the first), collecting descriptors."""
    chunks: list[bytes] = []
    got = 0
    room = socket.CMSG_SPACE(max(max_fds, 1) * 4)
    while got < size:
        try:
            data, ancillary, flags, _ = conn.recvmsg(size - got, room, _CLOEXEC)
        except TimeoutError:
            raise ProtocolError("the peer stopped sending mid-frame") from None
        except OSError as error:
            raise ProtocolError(f"the connection failed: {error.strerror or error}") from None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                received = array.array("i")
                received.frombytes(payload[: len(payload) - len(payload) % 4])
                fds.extend(received)
        close_all(fds[max_fds:])
        del fds[max_fds:]
        if flags & socket.MSG_CTRUNC:
            raise ProtocolError("more descriptors than expected")
        if not data:
            if got == 0 and not chunks:
                return None
            raise ProtocolError("the frame was cut short")
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)
