"""Where a sweep's points go as each chunk is judged: CSV rows, whole arrays (--arrays,
refused up front when they cannot fit), and the streamed JSON arrays; memory never
grows with the number of points except for what ``--arrays`` keeps."""

from __future__ import annotations

import gc
import math
import os
import signal
import struct
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, Protocol

import numpy as np

from autograd_cli.comparison.judge import Chunk
from autograd_cli.comparison.verdicts import TIER_NAMES
from autograd_cli.core.dtypes import shortest
from autograd_cli.core.statuses import LABEL_OF_CODE
from autograd_cli.inputs import (
    InputError,
)
from autograd_cli.report.common import json_number
from autograd_cli.report.files import Writer, output_file
from autograd_cli.report.sweep_model import SweepReport


class Stream(Protocol):
    """Where text output goes: stdout, or an output file's :class:`Writer`."""

    def write(self, text: str, /) -> Any: ...


@contextmanager
def open_output(path: Path | None) -> Iterator[Writer]:
    """stdout, or a file replaced whole when the block ends well (a reader never sees
    half an output; a failure leaves any old file as it was), or a device or FIFO
    written through (:func:`autograd_cli.report.files.output_file`). A write that
    fails raises :class:`OutputError`."""
    if path is None:
        stream = Writer(sys.stdout, "stdout", pipe=True)
        yield stream
        stream.flush()
        return
    with output_file(path, newline="") as stream:
        yield stream


def shortest_texts(array: np.ndarray) -> list[str]:
    """Each number as the shortest text that reads back as the same value of its dtype
    (numpy's repr for float32, Python's for float64); nan, inf, -inf as such."""
    if array.dtype == np.float64:
        return list(map(repr, array.tolist()))
    if array.dtype.name == "bfloat16":  # numpy cannot cast it to str
        return [shortest(v, "bfloat16") for v in array.astype(np.float64).tolist()]
    return [str(v) for v in array.astype(str).tolist()]


class CsvSink:
    """One CSV row per point, written as each chunk is judged: the swept variable, the
    exact f and f', the noise floor, then each backend's f' with its absolute and ULP
    error and its tier (ok, inaccurate, wrong; all empty where that backend could not
    run, the tier empty where the point is labelled), then the point's ``label`` (empty, or
    undefined, nondifferentiable, overflow, underflow: see :data:`LABELS`).

    With several ``dtypes`` a first column ``dtype`` names each row's, and the rows
    come in one block per dtype (one header for all)."""

    def __init__(self, stream: Stream, swept: str, backends: Sequence[str],
                 dtypes: Sequence[str] = ()) -> None:
        self.stream = stream
        self.backends = tuple(backends)
        self.with_dtype = len(dtypes) > 1
        self.header = ["dtype"] if self.with_dtype else []
        self.header += [swept, "f", "exact", "noise_floor"]
        for name in self.backends:
            self.header += [name, f"{name}_abs_error", f"{name}_ulp_error", f"{name}_tier"]
        self.header.append("label")
        self.written = False

    #: Rows formatted and written at a time: the text of a piece, not of a chunk
    #: (a million rows as Python strings is about a GB), is what memory holds.
    PIECE = 1 << 14

    def chunk(self, data: Chunk) -> None:
        if not self.written:  # written with the first rows: a refusal leaves nothing behind
            self.stream.write(",".join(self.header) + "\n")
            self.written = True
        pieces = [slice(start, start + self.PIECE) for start in range(0, data.x.size, self.PIECE)]
        if len(pieces) < 2 or not _CAN_FORK or not self._in_two(data, pieces):
            for where in pieces:
                self.stream.write(self._rows(data, where))

    def _in_two(self, data: Chunk, pieces: list[slice]) -> bool:
        """Write the pieces with a forked child formatting every other one: the text
        (shortest round-trip decimals, about 1 µs a number) is most of a CSV sweep's
        time, and the child reads the chunk's arrays as they are (copy-on-write, no
        pickling). Each child piece comes through a pipe as a length-prefixed frame,
        read only when it is that piece's turn (the pipe holds the child back, so
        memory stays one piece or two). Where the child fails, the parent formats
        its pieces itself: the bytes are the serial path's in every outcome. False
        (nothing written) where no child could be started.

        :data:`_ENDING` signals wait while the process forks, until each side is ready
        for them: the parent inside the block that kills and reaps the child, the
        child with the default actions (the parent's handlers would raise there and
        unwind the parent's cleanup in the child)."""
        try:
            read_end, write_end = os.pipe()
        except OSError:
            return False
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _ENDING)
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            return False
        if pid == 0:
            _format_in_child(self, data, pieces[1::2], (read_end, write_end), held)
        intact = False  # every child frame arrived whole: the child is done, or nearly
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            os.close(write_end)
            with os.fdopen(read_end, "rb") as pipe:
                broken = False
                for i, where in enumerate(pieces):
                    text = None if i % 2 == 0 or broken else _read_frame(pipe)
                    broken = broken or (i % 2 == 1 and text is None)
                    self.stream.write(self._rows(data, where) if text is None else text)
                intact = not broken
        finally:
            _reap(pid, kill=not intact)
        return True

    def _rows(self, data: Chunk, where: slice) -> str:
        """The CSV text of the chunk's rows ``where``."""
        x = data.x[where]
        n = x.size
        blank = [""] * n
        columns = [[data.dtype] * n] if self.with_dtype else []
        values = blank if data.values is None else shortest_texts(data.values[where])
        floor = blank if data.floor is None else floor_texts(data.floor[where])
        columns += [shortest_texts(x), values, shortest_texts(data.exact[where]), floor]
        seen: list[tuple[np.ndarray, list[str]]] = []  # backends mostly agree: format once
        for name in self.backends:
            if name in data.derivatives:
                judged = data.errors[name]
                for array in (data.derivatives[name][where], judged.absolute[where],
                              judged.ulps[where]):
                    columns.append(texts_reusing(array, seen))
                columns.append(tier_texts(judged.tier_codes()[where],
                                          data.skipped.get(name, _NONE)[where]))
            else:
                columns += [blank, blank, blank, blank]
        columns.append(blank if data.labels is None else label_texts(data.labels[where], ""))
        return "\n".join(map(",".join, zip(*columns, strict=True))) + "\n"


#: A frame's length prefix: the byte count of the UTF-8 text that follows.
_FRAME = struct.Struct("<Q")

#: The signals that end a run (:mod:`autograd_cli.cli.signals`).
_ENDING = frozenset(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                    if hasattr(signal, name))

#: Rows can be formatted in a forked child (not on Windows).
_CAN_FORK = hasattr(os, "fork") and hasattr(signal, "pthread_sigmask")


def _format_in_child(sink: CsvSink, data: Chunk, pieces: list[slice], ends: tuple[int, int],
                     held: Iterable[int]) -> NoReturn:
    """The forked child of :meth:`CsvSink._in_two`: each of ``pieces`` as a frame on
    the pipe's write end, then exit. The parent's signal handlers must not run here
    (a Ctrl-C to the process group ends the child outright; ``held``: the signal mask
    to go back to once they are gone), nor its exit hooks, stdio flushes or its
    garbage's finalizers (they would act twice): ``os._exit`` whatever happens."""
    try:
        gc.disable()
        for number in _ENDING:
            signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        read_end, write_end = ends
        os.close(read_end)
        for where in pieces:
            body = sink._rows(data, where).encode("utf-8")
            _write_all(write_end, _FRAME.pack(len(body)))
            _write_all(write_end, body)
        os._exit(0)
    finally:
        os._exit(1)


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` may take a pipe's bytes in parts."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_frame(pipe: BinaryIO) -> str | None:
    """The next text the child sent; None where it died before sending all of it."""
    head = pipe.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (size,) = _FRAME.unpack(head)
    body = pipe.read(size)
    return body.decode("utf-8") if len(body) == size else None


def _reap(pid: int, kill: bool) -> None:
    """Wait for the child (killed first where ``kill``: the parent gave up on it, or is
    ending), so no process is left behind; a signal during the wait still kills and
    reaps it before the interruption goes on."""
    try:
        if kill:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    except BaseException:
        with suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with suppress(ChildProcessError):
            os.waitpid(pid, 0)
        raise


def texts_reusing(array: np.ndarray, seen: list[tuple[np.ndarray, list[str]]]) -> list[str]:
    """:func:`shortest_texts` of ``array``, reusing the texts of an earlier column of the
    same dtype wherever the bits are the same (the same text by construction) and
    formatting only the rest; the column is then remembered in ``seen``."""
    bits = array.view(np.dtype(f"u{array.dtype.itemsize}"))
    best: tuple[np.ndarray, list[str]] | None = None
    for earlier, texts in seen:
        if earlier.dtype != array.dtype:
            continue
        same = earlier.view(bits.dtype) == bits
        if best is None or same.sum() > best[0].sum():
            best = (same, texts)
        if best[0].all():
            break
    if best is None or not best[0].any():
        result = shortest_texts(array)
    elif best[0].all():
        result = best[1]
    else:
        result = list(best[1])
        differ = np.flatnonzero(~best[0])
        for index, text in zip(differ.tolist(), shortest_texts(array[differ]), strict=True):
            result[index] = text
    seen.append((array, result))
    return result


#: No point skipped (a stand-in for :attr:`Chunk.skipped` of a backend with none).
_NONE = np.zeros(0, dtype=bool)
_TIER_TEXTS = np.array([*TIER_NAMES, ""], dtype=object)


def floor_texts(floor: np.ndarray) -> list[str]:
    """The noise floor to 3 significant digits: a bound, not a result (half the time
    of the shortest round-trip text, and as much as anyone reads of it)."""
    return [f"{v:.3g}" for v in floor.tolist()]


def tier_texts(codes: np.ndarray, skipped: np.ndarray) -> list[str]:
    """Each point's tier by name; empty where the point was not judged (labelled)."""
    index = np.asarray(codes, dtype=np.intp)
    if skipped.size:
        index = np.where(skipped, len(TIER_NAMES), index)
    return list(_TIER_TEXTS[index])


def label_texts(codes: np.ndarray, ordinary: Any) -> list[Any]:
    """Each point's label by name (:data:`LABELS`); ``ordinary`` where it has none."""
    names = np.array([ordinary, *(LABEL_OF_CODE.get(c, ordinary)
                                  for c in range(1, max(LABEL_OF_CODE) + 1))], dtype=object)
    return list(names[np.asarray(codes, dtype=np.intp)])


def array_bytes(points: int, backends: int) -> int:
    """Memory that --arrays keeps: x, f and f' plus three arrays per backend, float64,
    and a label byte per point."""
    return points * (8 * (3 + 3 * backends) + 1)


def available_memory() -> int | None:
    """Bytes this machine can still give (MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def check_arrays_fit(points: int, backends: int, dtypes: int = 1) -> None:
    """Refuse --arrays up front when keeping them would exhaust memory (half of what is
    available, at most); with several dtypes each keeps its own."""
    needed = array_bytes(points, backends) * dtypes
    available = available_memory()
    if available is not None and needed > available // 2:
        each = f" in each of {dtypes} dtypes" if dtypes > 1 else ""
        raise InputError(
            f"--arrays: {points:,} points{each} need about {needed / 2**30:.1f} GiB for their "
            f"arrays, more than half the {available / 2**30:.1f} GiB available; use fewer "
            "points, or --format csv (streamed, any size)"
        )


class ArraySink:
    """Every point's numbers, kept for ``--format json --arrays`` (one sink per dtype)."""

    def __init__(self, points: int, backends: Sequence[str]) -> None:
        self.backends = tuple(backends)
        self.x = np.full(points, np.nan)
        self.values = np.full(points, np.nan)
        self.exact = np.full(points, np.nan)
        self.floor = np.full(points, np.nan)
        self.labels = np.zeros(points, dtype=np.int8)  # LABELS codes; 0: an ordinary point
        #: Per backend, each point's tier code; len(TIER_NAMES) where not judged.
        self.tiers = {name: np.full(points, len(TIER_NAMES), dtype=np.int8)
                      for name in self.backends}
        self.columns = {
            name: {key: np.full(points, np.nan) for key in ("derivative", "abs_error",
                                                             "ulp_error")}
            for name in self.backends
        }

    def chunk(self, data: Chunk) -> None:
        where = slice(data.start, data.start + data.x.size)
        self.x[where] = data.x
        self.exact[where] = data.exact
        if data.values is not None:
            self.values[where] = data.values
        if data.floor is not None:
            self.floor[where] = data.floor
        if data.labels is not None:
            self.labels[where] = data.labels
        for name, derivative in data.derivatives.items():
            judged = data.errors[name]
            self.columns[name]["derivative"][where] = derivative
            self.columns[name]["abs_error"][where] = judged.absolute
            self.columns[name]["ulp_error"][where] = judged.ulps
            codes = judged.tier_codes()
            skipped = data.skipped.get(name)
            if skipped is not None:
                codes = np.where(skipped, len(TIER_NAMES), codes)
            self.tiers[name][where] = codes

    def write(self, stream: Stream, swept: str, failed: Sequence[str], indent: str = "") -> None:
        """The ``arrays`` object of the JSON output, written piece by piece (``indent``:
        more leading space on every line, for an object nested one level deeper)."""
        pad = indent + "    "
        stream.write("{")
        for key, array in ((swept, self.x), ("f", self.values), ("exact", self.exact),
                           ("noise_floor", self.floor)):
            stream.write(f"\n{pad}{_json_key(key)}: ")
            _write_numbers(stream, array)
            stream.write(",")
        stream.write(f'\n{pad}"labels": ')
        _write_labels(stream, self.labels)
        stream.write(f',\n{pad}"backends": {{')
        for j, name in enumerate(self.backends):
            stream.write(("," if j else "") + f"\n{pad}  {_json_key(name)}: ")
            if name in failed:
                stream.write("null")
                continue
            stream.write("{")
            for i, (key, array) in enumerate(self.columns[name].items()):
                stream.write(("," if i else "") + f"\n{pad}    {_json_key(key)}: ")
                _write_numbers(stream, array)
            stream.write(f',\n{pad}    "tier": ')
            _write_tiers(stream, self.tiers[name])
            stream.write(f"\n{pad}  }}")
        stream.write(f"\n{pad}}}\n{indent}  }}")


def _json_key(key: str) -> str:
    import json

    return json.dumps(key)


def write_json(
    stream: Stream, report: SweepReport,
    arrays: ArraySink | Mapping[str, ArraySink] | None = None,
) -> None:
    """The sweep's JSON: the summary, and with ``arrays`` every point's numbers under
    ``"arrays"`` (streamed, so the text is never held whole). With several dtypes
    ``arrays`` maps each dtype to its sink, and so does the ``"arrays"`` object."""
    import json

    text = json.dumps(report.to_dict(), indent=2)
    if arrays is None:
        stream.write(text + "\n")
        return
    assert text.endswith("\n}")
    stream.write(text[:-2] + ',\n  "arrays": ')
    if isinstance(arrays, ArraySink):
        arrays.write(stream, report.swept, [row.series for row in report.rows if row.failed])
    else:
        stream.write("{")
        for j, (dtype, sink) in enumerate(arrays.items()):
            failed = [row.series for row in report.rows if row.failed and row.dtype == dtype]
            stream.write(("," if j else "") + f"\n    {_json_key(dtype)}: ")
            sink.write(stream, report.swept, failed, indent="  ")
        stream.write("\n  }")
    stream.write("\n}\n")


def _write_tiers(stream: Stream, codes: np.ndarray, piece: int = 1 << 16) -> None:
    """A JSON list of each point's tier: "ok", "inaccurate", "wrong", or null where the
    point was not judged."""
    names = np.array([*(f'"{name}"' for name in TIER_NAMES), "null"], dtype=object)
    stream.write("[")
    for start in range(0, codes.size, piece):
        text = ", ".join(names[np.asarray(codes[start:start + piece], dtype=np.intp)])
        stream.write((", " if start else "") + text)
    stream.write("]")


def _write_labels(stream: Stream, codes: np.ndarray, piece: int = 1 << 16) -> None:
    """A JSON list of each point's label: null, or "undefined", "overflow", ..."""
    stream.write("[")
    for start in range(0, codes.size, piece):
        names = label_texts(codes[start:start + piece], None)
        text = ", ".join("null" if name is None else f'"{name}"' for name in names)
        stream.write((", " if start else "") + text)
    stream.write("]")


def _write_numbers(stream: Stream, array: np.ndarray | None, piece: int = 1 << 16) -> None:
    """A JSON list of float64, non-finite numbers as "nan"/"inf"/"-inf" strings."""
    if array is None:
        stream.write("null")
        return
    stream.write("[")
    for start in range(0, array.size, piece):
        part = array[start:start + piece].tolist()
        text = ", ".join(repr(v) if math.isfinite(v) else f'"{json_number(v)}"' for v in part)
        stream.write((", " if start else "") + text)
    stream.write("]")
