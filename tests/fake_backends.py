"""Small backends that behave well or badly on purpose, for the runner's tests.

They compute with numpy only (f = x**2 whatever the expression), so a test about
isolation does not pay for importing a framework. Set FAKE_BACKENDS_DIR and each one
leaves ``<name>.pid`` (and more) there, so a test can check which processes ran and
that they are gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import numpy as np

from autograd_cli.backends.base import Backend, Evaluation
from autograd_cli.expr.nodes import Binary, Expr, Num, Span, Var


def _note(name: str, text: str) -> None:
    folder = os.environ.get("FAKE_BACKENDS_DIR")
    if folder:
        (Path(folder) / name).write_text(text)


class Square(Backend):
    """Correct for f = x**2: f' = 2x, computed in the requested dtype."""

    name = "fake_square"
    method = "numpy"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        _note(f"{self.name}.pid", str(os.getpid()))
        x = np.asarray(inputs["x"], dtype=dtype)
        derivatives = {name: (2 * x if name == "x" else np.zeros_like(x)) for name in wrt}
        return Evaluation(x * x, derivatives, self.method, dtype, {"pid": os.getpid()})


class InProcessSquare(Square):
    name = "fake_inprocess"
    isolated = False


class Echo(Backend):
    """Hands its input back unchanged: f = x, f' = 1; for exact round trips."""

    name = "fake_echo"
    method = "copy"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        x = inputs["x"]
        return Evaluation(x.copy(), {"x": np.ones_like(x)}, self.method, dtype)


class Segfault(Square):
    name = "fake_segfault"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        os.kill(os.getpid(), signal.SIGSEGV)
        raise AssertionError("unreachable")


class Abort(Square):
    name = "fake_abort"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        os.abort()


class ExitCode(Square):
    name = "fake_exit"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        os._exit(3)


class Hang(Square):
    """Starts a child of its own (as frameworks may), notes both pids, then hangs."""

    name = "fake_hang"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        _note(f"{self.name}.child", str(child.pid))
        _note(f"{self.name}.pid", str(os.getpid()))
        time.sleep(600)
        raise AssertionError("unreachable")


class Raise(Square):
    name = "fake_raise"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        raise ValueError("the fake backend refuses\nsecond line of detail")


class Missing(Square):
    """Its framework is not installed at all: the parent must not even spawn it."""

    name = "fake_missing"
    module = "no_such_framework_gradcheck"
    install_hint = "pip install no-such-framework"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        _note(f"{self.name}.pid", str(os.getpid()))
        raise AssertionError("a backend that is not installed must not run")


class BrokenImport(Square):
    """Looks installed, but importing its framework fails inside evaluate."""

    name = "fake_broken_import"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        import no_such_framework_gradcheck  # type: ignore[import-not-found]  # noqa: F401

        raise AssertionError("unreachable")


class Chatty(Square):
    """Writes to fd 1 and fd 2 the way C++ framework logging does, past sys.stdout."""

    name = "fake_chatty"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        print("CHATTY-PRINT")
        sys.stdout.flush()
        os.write(1, b"CHATTY-FD1\n")
        os.write(2, b"CHATTY-FD2\n")
        return super().evaluate(expr, inputs, wrt, dtype)


class Modules(Square):
    """Notes every module its worker has imported, to keep worker start-up lean."""

    name = "fake_modules"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        _note(f"{self.name}.modules", "\n".join(sorted(sys.modules)))
        return super().evaluate(expr, inputs, wrt, dtype)


class Float64Only(Square):
    """Always computes in float64, whatever it is asked: the answer outgrows its slot."""

    name = "fake_float64"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        return super().evaluate(expr, inputs, wrt, "float64")


class Moody(Hang):
    """Behaves as its first input says, so one pool can see it fail then recover:
    -1 hangs (with a child), -2 segfaults, -3 raises, anything else squares."""

    name = "fake_moody"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        first = float(inputs["x"][0])
        if first == -1:
            return super().evaluate(expr, inputs, wrt, dtype)  # notes under our name
        if first == -2:
            os.kill(os.getpid(), signal.SIGSEGV)
        if first == -3:
            raise ValueError("moody refuses")
        return Square.evaluate(self, expr, inputs, wrt, dtype)


class Hoard(Square):
    """Keeps a view of every input it was given, as a caching framework might, and
    reads them all again each time: they must still hold what they held."""

    name = "fake_hoard"
    kept: ClassVar[list[tuple[np.ndarray, np.ndarray]]] = []

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        self.kept.append((inputs["x"], inputs["x"].copy()))
        for view, copy in self.kept:
            if not np.array_equal(view, copy):
                raise ValueError("an earlier input changed under the backend")
        return super().evaluate(expr, inputs, wrt, dtype)


def tutorial_polynomial() -> Expr:
    """2*x**3+4*x**2+5*x+6, built by hand so a runner test does not need the parser."""

    def num(n: int, at: int) -> Num:
        return Num(Fraction(n), str(n), Span(at, at + 1))

    x = [Var("x", Span(at, at + 1)) for at in (2, 9, 15)]
    cube = Binary("mul", num(2, 0), Binary("pow", x[0], num(3, 5), Span(2, 6)), Span(0, 6))
    square = Binary("mul", num(4, 7), Binary("pow", x[1], num(2, 12), Span(9, 13)), Span(7, 13))
    linear = Binary("mul", num(5, 14), x[2], Span(14, 17))
    total = Binary("add", Binary("add", cube, square, Span(0, 13)), linear, Span(0, 17))
    return Binary("add", total, num(6, 18), Span(0, 19))


FAKES: dict[str, type[Backend]] = {
    cls.name: cls
    for cls in (
        Square,
        InProcessSquare,
        Echo,
        Segfault,
        Abort,
        ExitCode,
        Hang,
        Raise,
        Missing,
        BrokenImport,
        Chatty,
        Modules,
        Float64Only,
        Moody,
        Hoard,
    )
}
