"""Helpers for tests that watch processes (workers killed, nothing left behind)."""

from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a (container) init that never reaps."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
