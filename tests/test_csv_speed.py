"""CSV rows formatted in two processes (a forked child takes every other piece): the
same bytes as one process, and no child left behind whatever happens mid-write."""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from autograd_cli.comparison.judge import Chunk
from autograd_cli.comparison.verdicts import Errors
from autograd_cli.core.dtypes import numpy_dtype
from autograd_cli.core.statuses import LABEL_OF_CODE
from autograd_cli.report.sinks import CsvSink, Stream

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here")

#: Numbers that format unlike the rest: signed zeros, infinities, NaN, subnormals.
ODD = [np.nan, np.inf, -np.inf, -0.0, 0.0, 5e-324, -2.2250738585072014e-308, 1e-45,
       2.0**-130, 3.4028234663852886e38, 1e300, -1.5, 0.1]


def column(n: int, dtype: str, seed: int) -> np.ndarray:
    """``n`` numbers of ``dtype``: spread over many magnitudes, with :data:`ODD` strewn in."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(n) * 10.0 ** rng.integers(-40, 40, n)
    values[rng.integers(0, n, 3 * len(ODD))] = np.resize(ODD, 3 * len(ODD))
    values[:len(ODD)] = ODD
    with np.errstate(over="ignore"):
        return values.astype(numpy_dtype(dtype))


def chunk(n: int, dtype: str = "float32") -> Chunk:
    """A judged chunk as a sweep hands it over: float64 truth, ``dtype`` results, a
    bfloat16 backend, one that agrees with another bit for bit, labels on some points."""
    exact = column(n, "float64", 1)
    x = column(n, dtype, 2)
    derivatives = {"mine": column(n, dtype, 3), "half": column(n, "bfloat16", 4)}
    derivatives["same"] = derivatives["mine"].copy()
    derivatives["same"][::7] = column(n, dtype, 5)[::7]  # mostly the same: texts reused
    errors = {name: Errors(column(n, "float64", 6 + i), column(n, "float64", 9),
                           column(n, "float32", 10 + i), np.ones(n, dtype=bool))
              for i, name in enumerate(derivatives)}
    labels = np.random.default_rng(20).integers(0, max(LABEL_OF_CODE) + 1, n).astype(np.int8)
    return Chunk(0, x, column(n, "float64", 21), exact, np.zeros(n), derivatives, errors,
                 dtype=dtype, labels=labels)


def sink(stream: Stream, piece: int = 1000, dtypes: tuple[str, ...] = ()) -> CsvSink:
    """A CsvSink with a small piece (several pieces in a small chunk), a backend that
    could not run among those that did."""
    result = CsvSink(stream, "x", ("mine", "failed", "half", "same"), dtypes)
    result.PIECE = piece
    return result


def serial(csv: CsvSink, data: Chunk) -> str:
    """What one process writes: the header, then each piece in turn."""
    pieces = range(0, data.x.size, csv.PIECE)
    return ",".join(csv.header) + "\n" + "".join(
        csv._rows(data, slice(start, start + csv.PIECE)) for start in pieces)


def children() -> set[int]:
    """This process's children, zombies (exited, not reaped) included."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="no /proc")


class Watched(io.StringIO):
    """Text kept as written, with the children this process had at each write."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[set[int]] = []

    def write(self, text: str, /) -> int:
        self.seen.append(children() if Path("/proc/self/task").is_dir() else set())
        return super().write(text)


@pytest.mark.parametrize(("dtype", "n", "piece", "dtypes"), [
    ("float32", 5 * 1000 + 7, 1000, ()),
    ("float64", 4 * 1000, 1000, ("float32", "float64")),  # with the dtype column
    ("bfloat16", 3 * 1000 + 1, 1000, ()),
    ("float32", 2 * CsvSink.PIECE + 5, CsvSink.PIECE, ()),  # the real piece size
])
def test_two_processes_write_the_bytes_of_one(dtype: str, n: int, piece: int,
                                              dtypes: tuple[str, ...]) -> None:
    data = chunk(n, dtype)
    stream = io.StringIO()
    csv = sink(stream, piece, dtypes)
    csv.chunk(data)
    text = stream.getvalue()
    assert text == serial(sink(io.StringIO(), piece, dtypes), data)
    assert "nan" in text and "-inf" in text and "-0.0" in text and "5e-324" in text
    assert text.count("\n") == n + 1


def test_a_chunk_of_one_piece_is_written_in_this_process() -> None:
    data = chunk(999)
    stream = Watched()
    before = children() if Path("/proc/self/task").is_dir() else set()
    sink(stream).chunk(data)
    assert stream.getvalue() == serial(sink(io.StringIO()), data)
    assert all(seen == before for seen in stream.seen)


@needs_proc
def test_the_child_is_gone_after_the_chunk() -> None:
    before = children()
    data = chunk(6 * 1000)
    stream = Watched()
    csv = sink(stream)
    csv.chunk(data)
    assert any(seen - before for seen in stream.seen)  # a child did format pieces
    assert children() == before
    csv.chunk(data)  # the next chunk, its own child: the rows of both, in order
    assert stream.getvalue() == serial(csv, data) + serial(csv, data).split("\n", 1)[1]
    assert children() == before


class FailsAt(Watched):
    """A stream whose ``at``-th write raises ``error`` (a full disk, a Ctrl-C)."""

    def __init__(self, at: int, error: BaseException) -> None:
        super().__init__()
        self.at = at
        self.error = error

    def write(self, text: str, /) -> int:
        if len(self.seen) + 1 == self.at:
            raise self.error
        return super().write(text)


@needs_proc
@pytest.mark.parametrize("at", [2, 3, 6])  # a parent piece first, a child's, a later one
@pytest.mark.parametrize("error", [OSError(28, "No space left on device"),
                                   KeyboardInterrupt()])
def test_no_child_is_left_when_a_write_fails(at: int, error: BaseException) -> None:
    before = children()
    stream = FailsAt(at, error)
    with pytest.raises(type(error)) as raised:
        sink(stream).chunk(chunk(8 * 1000))
    assert raised.value is error
    assert children() == before
    assert len(stream.seen) == at - 1


class KillsTheChild(Watched):
    """A stream that kills this process's new child at its ``at``-th write: the child
    dies mid-chunk, and the parent must format its pieces instead. ``blocked``: once
    the child sleeps, i.e. waits with half a frame in the full pipe (a piece's text
    is far more than a pipe holds), so the parent reads a frame cut short."""

    def __init__(self, at: int, before: set[int], blocked: bool) -> None:
        super().__init__()
        self.at = at
        self.before = before
        self.blocked = blocked

    def write(self, text: str, /) -> int:
        if len(self.seen) + 1 == self.at:
            for pid in children() - self.before:
                deadline = time.monotonic() + 10
                while self.blocked and state(pid) != "S" and time.monotonic() < deadline:
                    time.sleep(0.001)
                assert not self.blocked or state(pid) == "S"
                os.kill(pid, signal.SIGKILL)
        return super().write(text)


def state(pid: int) -> str:
    """A process's state letter: R running, S sleeping (here: on a full pipe), Z exited."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@needs_proc
@pytest.mark.parametrize("blocked", [False, True])
@pytest.mark.parametrize("at", [2, 3, 5])
def test_rows_come_whole_when_the_child_dies(at: int, blocked: bool) -> None:
    before = children()
    data = chunk(7 * 1000 + 3)
    stream = KillsTheChild(at, before, blocked)
    sink(stream).chunk(data)
    assert stream.getvalue() == serial(sink(io.StringIO()), data)
    assert children() == before
