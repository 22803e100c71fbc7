"""What a service's answers depend on, as one short hash: an answer must never come from
stale code or a differently configured framework.

Why its own module: the client computes it on every run (so it must cost about a
millisecond: file metadata only, nothing imported) and the service computes it once at
start; a mismatch makes the service step down and the client run the check itself.

It covers:

- the interpreter (``sys.executable``, its version) and gradcheck's version;
- gradcheck's own source files (path, size and modification time of every ``.py``
  under the package: an editable install edited in place counts as an upgrade);
- every installed distribution: the names of the ``*.dist-info`` / ``*.egg-info``
  entries of each ``sys.path`` folder, which carry their versions (``torch-2.5.1``,
  ``tensorflow-2.18.0``, ``jax-0.4.35``, ``numpy``, ``sympy``, plugins...): exactly what
  ``importlib.metadata`` reads, without its cost;
- the environment variables that change what code is imported or how a framework
  computes (:data:`PREFIXES`): ``PYTHONPATH``, ``CUDA_VISIBLE_DEVICES``, ``XLA_FLAGS``,
  ``GRADCHECK_PLUGINS``, ... Per-run settings (``GRADCHECK_FORMAT``, ``NO_COLOR``,
  ``COLUMNS``) are not in it: each request carries its own environment.
"""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Mapping

import autograd_cli

#: Environment variables (by prefix) that the service's workers and imports depend on.
PREFIXES = (
    "PYTHON",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "LD_",
    "CUDA",
    "NVIDIA_",
    "HIP_",
    "ROCM",
    "TF_",
    "XLA_",
    "JAX_",
    "TORCH",
    "PYTORCH_",
    "OMP_",
    "KMP_",
    "MKL_",
    "OPENBLAS_",
    "GRADCHECK_PLUGINS",
)


def fingerprint(env: Mapping[str, str], path: list[str] | None = None) -> str:
    """The hash for a process whose import path is ``path`` (default ``sys.path``,
    without its first entry: the script's folder or the current one, which says nothing
    about what is installed) under the environment ``env``."""
    parts: list[bytes] = []

    def add(*items: object) -> None:
        parts.extend(str(item).encode("utf-8", "surrogateescape") for item in items)

    add(sys.executable, sys.version, autograd_cli.__version__)
    for name in sorted(env):
        if name.startswith(PREFIXES):
            add("env", name, env[name])
    for folder in sys.path[1:] if path is None else path:
        add("path", folder)
        try:
            entries = sorted(os.listdir(folder or "."))
        except OSError:
            continue
        add(*(e for e in entries if e.endswith((".dist-info", ".egg-info", ".pth"))))
    package = os.path.dirname(os.path.abspath(autograd_cli.__file__))
    add("source", package)
    for folder, subfolders, files in os.walk(package):
        subfolders[:] = sorted(s for s in subfolders if s != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                try:
                    info = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                add(folder, name, info.st_size, info.st_mtime_ns)
    data = b"\0".join(parts)
    # Not a security boundary (only our own uid reaches the service): a 64-bit checksum
    # tells versions apart without importing OpenSSL's hashlib on every run.
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}{len(data):x}"
