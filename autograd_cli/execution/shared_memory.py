"""The shared-memory transport: blocks that carry points to workers and answers back.

Why its own module: large arrays must cross between processes without being pickled,
and every block must be unlinked exactly once whatever happens; creating, sizing,
viewing and giving back a block is one job, apart from scheduling the workers.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np

#: Our shared-memory blocks are named ``gradcheck_<pid of the parent>_<random>``, so
#: leftovers can be traced to the process that made them.
BLOCK_PREFIX = "gradcheck_"


def create_block(nbytes: int) -> SharedMemory:
    for _ in range(8):
        name = f"{BLOCK_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"  # <= 30: macOS's limit
        try:
            return SharedMemory(name=name, create=True, size=max(nbytes, 1))
        except FileExistsError:
            continue
    raise FileExistsError("no free shared memory name")


def discard(block: SharedMemory, *, keep_mapped: bool = False) -> None:
    """Unlink a block exactly once (a second unlink would leave the resource tracker
    believing it leaked); ``keep_mapped`` leaves the pages to arrays that still view them."""
    with suppress(FileNotFoundError):
        block.unlink()
    if not keep_mapped:
        with suppress(BufferError, OSError):
            block.close()


def room_for(nbytes: int) -> bool:
    """Whether /dev/shm can hold ``nbytes`` more. A full tmpfs does not fail the
    allocation: it kills the writer with SIGBUS, so ask before (containers often give
    /dev/shm only 64 MiB). Without /dev/shm (macOS) there is no such quota to ask."""
    try:
        stat = os.statvfs("/dev/shm")
    except (OSError, AttributeError):
        return True
    return stat.f_bavail * stat.f_frsize >= nbytes + (1 << 20)


class _Mapped:
    """Hands numpy a view of a shared block and keeps the block mapped for as long as
    any array views it, so an answer is read where the worker wrote it, not copied."""

    def __init__(self, block: SharedMemory, offset: int, count: int, dtype: np.dtype[Any]):
        self.block = block
        assert block.buf is not None
        probe = np.frombuffer(block.buf, dtype=np.uint8, count=1)
        address = int(probe.ctypes.data) + offset
        del probe  # no buffer export may outlive this: block.close() must stay possible
        self.__array_interface__ = {
            "version": 3,
            "shape": (count,),
            "typestr": dtype.str,
            "data": (address, False),
        }


def view(block: SharedMemory, offset: int, count: int, dtype: np.dtype[Any]) -> np.ndarray:
    array = np.asarray(_Mapped(block, offset, count, dtype))
    # The array interface spells bfloat16 as raw 2-byte voids: view them as what they are.
    return array if array.dtype == dtype else array.view(dtype)
