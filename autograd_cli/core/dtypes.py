"""What gradcheck knows about its dtypes, in numpy terms, without any framework.

Why this module: numpy has float16 but no bfloat16, which comes from ``ml_dtypes``
(installed with TensorFlow and JAX), imported here only when a bfloat16 array is made.
And a plain cast to bfloat16 rounds twice (float64 -> float32 -> bfloat16), which can
miss the nearest value; :func:`round_to` rounds once, so every backend receives, and
the truth is evaluated at, the dtype value nearest to what the user typed.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

#: The full-precision dtypes, which every backend computes in.
DTYPES: tuple[str, ...] = ("float32", "float64")
#: Every dtype a comparison may ask for; a backend
#: that cannot compute in one gives an ``unavailable`` row for it.
ALL_DTYPES: tuple[str, ...] = ("float16", "bfloat16", *DTYPES)

#: The 2-byte formats: (significand bits with the hidden one, minimum normal exponent).
HALF_FORMATS: dict[str, tuple[int, int]] = {"float16": (11, -14), "bfloat16": (8, -126)}

ML_DTYPES_HINT = "pip install ml-dtypes; it comes with TensorFlow and JAX"


def missing(dtype: str) -> str | None:
    """Why numpy cannot hold ``dtype`` here, or None; asks without importing."""
    if dtype != "bfloat16":
        return None
    try:
        found = importlib.util.find_spec("ml_dtypes") is not None
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules
        found = False
    return None if found else f"bfloat16 needs the ml_dtypes package ({ML_DTYPES_HINT})"


def numpy_dtype(dtype: str) -> np.dtype[Any]:
    """The numpy dtype named ``dtype`` (bfloat16 from ml_dtypes)."""
    if dtype == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(dtype)


def name_of(dtype: np.dtype[Any]) -> str:
    """A name :func:`numpy_dtype` reads back: ``dtype.str`` of bfloat16 is a bare '<V2'."""
    return dtype.name if dtype.name == "bfloat16" else dtype.str


def finfo(dtype: str) -> Any:
    """``np.finfo`` for ``dtype``; numpy's own refuses bfloat16."""
    if dtype == "bfloat16":
        import ml_dtypes

        return ml_dtypes.finfo(ml_dtypes.bfloat16)
    return np.finfo(np.dtype(dtype))


def round_to(values: Any, dtype: str) -> np.ndarray:
    """``values`` (float64) correctly rounded to ``dtype``, ties to even, once.

    For the 2-byte formats the rounding is done in float64, where it is exact: scale
    each value so that the kept bits are the integer part, ``rint``, scale back. The
    result is then representable, so the final cast is exact (or overflows to ±inf,
    as IEEE rounding does past the largest finite value).
    """
    array = np.asarray(values, dtype=np.float64)
    target = numpy_dtype(dtype)
    if dtype not in HALF_FORMATS:
        with np.errstate(over="ignore"):
            return array.astype(target)
    precision, min_exponent = HALF_FORMATS[dtype]
    with np.errstate(all="ignore"):
        _, exponent = np.frexp(array)
        quantum = np.maximum(exponent - precision, min_exponent - precision + 1)
        rounded = np.ldexp(np.rint(np.ldexp(array, -quantum)), quantum)
        rounded = np.where(np.isfinite(array), rounded, array)
        return rounded.astype(target)


def shortest(value: float, dtype: str) -> str:
    """The shortest decimal that reads back as the same ``dtype`` value (numpy's repr
    for float16/float32, Python's for float64)."""
    if dtype == "float64" or not np.isfinite(value):
        return repr(float(value))
    if dtype in ("float16", "float32"):
        return str(numpy_dtype(dtype).type(value))
    target = float(round_to(value, dtype))
    for digits in range(1, 18):
        text = f"{target:.{digits}g}"
        if float(round_to(float(text), dtype)) == target:
            return text if any(c in text for c in ".en") else f"{text}.0"  # as numpy: 1.0
    return repr(target)


__all__ = [
    "ALL_DTYPES",
    "HALF_FORMATS",
    "finfo",
    "missing",
    "name_of",
    "numpy_dtype",
    "round_to",
    "shortest",
]
