"""``--show-code``: for each framework row, a standalone script that reproduces it.

Why: a row that disagrees with the truth is worth a bug report, and a bug report
needs code the framework's maintainers can run without gradcheck. The scripts are
printed from gradcheck's own tree (never from the user's text), each by a small
printer: an ops table of source strings walked by the same :func:`base.lower` that
builds the computations, so a script computes exactly what the backend computed.
That fixes a few choices a hand-written snippet would not make: every literal is a
0-d tensor of the dtype (``c(2.0)``, as the backends build them: a Python scalar
can take another kernel, e.g. torch's ``x**3`` is ``x*x*x``), parentheses follow the
tree (float addition is not associative), and TensorFlow and JAX are pinned to the
device the row used. Several points are one tensor, as in the backend, so each
number comes out of the same kernel. Higher orders and forward mode nest the same
calls the backend nests (``torch.autograd.grad``/``torch.func.jvp``, tapes or forward
accumulators, ``jax.grad``/``jax.jvp``), written out as a small helper in the script.
"""

from __future__ import annotations

import builtins
import keyword
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from autograd_cli.backends import lanes, natives
from autograd_cli.backends.natives import Spelling, Written, call_source
from autograd_cli.core.model import Partial, Request, notation
from autograd_cli.expr.functions import FUNCTIONS
from autograd_cli.expr.walk import lower, num_as_float

#: A piece of source and its precedence (Python's: higher binds tighter).
Source = tuple[str, int]

ADD, MUL, UNARY, POW, ATOM = 1, 2, 3, 4, 5
_BINARY = {"add": (" + ", ADD), "sub": (" - ", ADD), "mul": (" * ", MUL),
           "div": (" / ", MUL), "pow": (" ** ", POW)}

#: Names a script defines or uses itself; a variable called so is renamed (``c_``).
_TAKEN = frozenset(
    {"torch", "tf", "jax", "jnp", "math", "c", "dt", "f", "value", "tape", "jvp", "along",
     "derivative", "nested_grad", "d", "k", "leaf", "leaves"}
    | set(dir(builtins))
)


def literal(value: float) -> str:
    """A float as Python source that reads back exactly (``float("inf")`` and all)."""
    if math.isnan(value):
        return 'float("nan")'
    if math.isinf(value):
        return 'float("inf")' if value > 0 else '-float("inf")'
    return repr(float(value))


def _wrap(part: Source, minimum: int) -> str:
    text, precedence = part
    return text if precedence >= minimum else f"({text})"


def source_ops(functions: dict[str, Spelling], *, unary_plus: bool = True) -> dict[str, Any]:
    """An ops table whose values are source text: ``functions`` is a framework's table of
    :mod:`~autograd_cli.backends.natives`, the very calls its backend makes (parameters
    as the float literals the backend passes). Binary operators print infix (the
    frameworks' operators call the same ops as their ``add``/``pow``)."""

    def binary(name: str) -> Callable[[Source, Source], Source]:
        symbol, precedence = _BINARY[name]
        if name == "pow":  # right-associative, and its right operand may be unary
            return lambda a, b: (f"{_wrap(a, ATOM)}{symbol}{_wrap(b, UNARY)}", POW)
        return lambda a, b: (f"{_wrap(a, precedence)}{symbol}{_wrap(b, precedence + 1)}",
                             precedence)

    def call(spelling: Spelling, arity: int) -> Callable[..., Source]:
        # TF's log2 is a division: log(a) / log(2)
        divides = isinstance(spelling, Written) and " / " in spelling.template
        precedence = MUL if divides else ATOM

        def source(*args: Any) -> Source:
            inputs = [text for text, _ in args[:arity]]
            params = [literal(num_as_float(p)) for p in args[arity:]]
            return call_source(spelling, inputs, params), precedence

        return source

    ops: dict[str, Any] = {
        "num": lambda v: (f"c({literal(num_as_float(v))})", ATOM),
        "pi": lambda: ("c(math.pi)", ATOM),
        "e": lambda: ("c(math.e)", ATOM),
        "neg": lambda a: (f"-{_wrap(a, POW)}", UNARY),
        "pos": (lambda a: (f"+{_wrap(a, POW)}", UNARY)) if unary_plus else (lambda a: a),
    }
    ops.update({name: binary(name) for name in _BINARY})
    ops.update({name: call(functions[name], FUNCTIONS[name].arity) for name in FUNCTIONS})
    return ops


#: Each framework's functions, as its backend calls them (one table: natives).
TORCH_FUNCTIONS: dict[str, Spelling] = natives.TORCH
TF_FUNCTIONS: dict[str, Spelling] = natives.TENSORFLOW
JAX_FUNCTIONS: dict[str, Spelling] = natives.JAX


class _Names:
    """Python names for the expression's variables and their gradients, clear of the
    script's own names and of each other."""

    def __init__(self, variables: tuple[str, ...]) -> None:
        self.used = set(_TAKEN)
        self.var = {name: self._claim(name) for name in variables}
        self.grad = {name: self._claim(f"grad_{name}") for name in variables}

    def _claim(self, name: str) -> str:
        while name in self.used or keyword.iskeyword(name):
            name += "_"
        self.used.add(name)
        return name


def _expression(request: Request, functions: dict[str, Spelling], names: _Names,
                *, unary_plus: bool = True) -> str:
    env = {name: (names.var[name], ATOM) for name in request.variables}
    text, _ = lower(request.expr, source_ops(functions, unary_plus=unary_plus), env)
    return text


def _points(request: Request, *, scalar: bool = True) -> dict[str, str]:
    """Each variable's points as the backends saw them (rounded to the dtype): one
    number for one point (if ``scalar``), else a list."""
    out: dict[str, str] = {}
    for name, array in request.inputs().items():
        values = [literal(v) for v in np.asarray(array).astype(np.float64).tolist()]
        out[name] = values[0] if len(values) == 1 and scalar else f"[{', '.join(values)}]"
    return out


def _whole_vectors(request: Request) -> list[str]:
    """The padding the frameworks compute with (backends/lanes.py), so the script's
    kernels round each point as gradcheck's did; ``n`` is how many are printed."""
    if not request.variables:
        return []
    size = lanes.size_for(request.size)
    return [
        f"n = {request.size}  # the points; computed as {size}, the last repeated, as gradcheck",
        "# does: kernels may round a lone point, or those after the last full SIMD vector,",
        "# otherwise than a large tensor's",
        "",
        "",
        "def padded(points):",
        f"    return points + points[-1:] * ({size} - len(points))",
        "",
        "",
    ]


def _first(request: Request, text: str) -> str:
    """``text`` (a list of every computed point) cut to the points asked for."""
    return f"{text}[:n]" if request.variables else text


def _simple(request: Request) -> bool:
    """First derivatives in reverse mode: the tutorial's idiom, no helper needed."""
    return request.mode == "reverse" and all(len(p) == 1 for p in request.partials)


def _imports_math(expression: str) -> list[str]:
    return ["import math"] if "c(math." in expression else []


def _header(request: Request, backend: str) -> list[str]:
    from autograd_cli.backends import backend_class

    method = backend_class(backend).describe(request.mode, request.order)
    return [
        f"# gradcheck --show-code: {backend} ({method}), {request.dtype}, {request.device}",
        "# reproduces gradcheck's rows for this backend; needs only the framework",
        "",
    ]


def _leaves(request: Request) -> set[str]:
    """Variables a reverse-mode backend marks for differentiation."""
    if request.mode != "reverse":
        return set()
    return {v for p in request.partials for v in p}


def _print(label: str, text: str) -> str:
    return f'print("{notation(label)} =", {text})'


def torch_script(request: Request) -> str:
    names = _Names(request.variables)
    expression = _expression(request, TORCH_FUNCTIONS, names)
    points = _points(request, scalar=False)  # padded as gradcheck computes them
    device = "" if request.device == "cpu" else f', device="{request.device}"'
    args = ", ".join(names.var[n] for n in request.variables)
    imports = [*_imports_math(expression), "import torch"]
    if request.mode == "forward":
        imports.append("from torch.func import jvp")
    lines = [*_header(request, "torch"), *imports, "", f"dt = torch.{request.dtype}", "", "",
             "def c(v):  # a literal: a 0-d tensor of the dtype, as gradcheck builds it",
             f"    return torch.tensor(v, dtype=dt{device})", "", "", *_whole_vectors(request)]
    if not _simple(request):
        lines += [f"def f({args}):", f"    return {expression}", "", ""]
    if request.mode == "forward":
        lines += [
            "def along(g, i):  # g's derivative in its argument i: torch.func.jvp, tangent 1",
            "    def tangent(*args):",
            "        def moving(a):",
            "            return g(*args[:i], a, *args[i + 1:])",
            "",
            "        return jvp(moving, (args[i],), (torch.ones_like(args[i]),))[1]",
            "",
            "    return tangent",
            "",
            "",
        ]
    elif not _simple(request):
        lines += [
            "def nested_grad(*leaves):  # by each leaf in turn, each level's graph kept",
            f"    d = f({args})",
            "    for k, leaf in enumerate(leaves):",
            "        if not d.requires_grad:  # nothing left to differentiate",
            "            return torch.zeros_like(d)",
            "        (d,) = torch.autograd.grad(d, leaf, torch.ones_like(d),",
            "                                   create_graph=k + 1 < len(leaves),"
            " allow_unused=True)",
            "        if d is None:",
            "            return torch.zeros_like(value)",
            "    return d",
            "",
            "",
        ]
    needed = _leaves(request)
    for name in request.variables:
        grad = ", requires_grad=True" if name in needed else ""
        lines.append(f"{names.var[name]} = torch.tensor(padded({points[name]}), "
                     f"dtype=dt{device}{grad})")
    if _simple(request):
        lines.append(f"value = {expression}")
        lines.append("value.backward(torch.ones_like(value))")
        lines.append(f'print("f =", {_first(request, "value.tolist()")})')
        lines += [_print(label, _first(request, f"{names.var[label]}.grad.tolist()"))
                  for label in request.wrt]
        return _tidy(lines)
    lines += [f"value = f({args})", f'print("f =", {_first(request, "value.tolist()")})']
    for label, partial in zip(request.wrt, request.partials, strict=True):
        if request.mode == "forward":
            call = _nest("f", partial, request.variables, "along({}, {})")
            lines.append(_print(label, _first(request, f"{call}({args}).tolist()")))
        else:
            leaves = ", ".join(names.var[v] for v in partial)
            lines.append(_print(label, _first(request, f"nested_grad({leaves}).tolist()")))
    return _tidy(lines)


def _nest(inner: str, partial: Partial, variables: tuple[str, ...], template: str) -> str:
    """``template`` wrapped once per variable of ``partial``, innermost first."""
    for name in partial:
        inner = template.format(inner, variables.index(name))
    return inner


def tensorflow_script(request: Request) -> str:
    names = _Names(request.variables)
    expression = _expression(request, TF_FUNCTIONS, names, unary_plus=False)
    # a list even for one point: TensorFlow's kernels can round a scalar differently
    points = _points(request, scalar=False)
    where = "/CPU:0" if request.device == "cpu" else "/GPU:0"
    lines = [*_header(request, "tensorflow"), *_imports_math(expression),
             "import tensorflow as tf", "", f"dt = tf.{request.dtype}", "", "",
             "def c(v):  # a literal: a constant of the dtype, as gradcheck builds it",
             "    return tf.constant(v, dtype=dt)", "", "", *_whole_vectors(request)]
    needed = _leaves(request)
    if not _simple(request):
        if request.mode == "forward":
            record = ["    with tf.autodiff.ForwardAccumulator(sources[-1],"
                      " tf.ones_like(sources[-1])) as accumulator:",
                      "        inner = derivative(*sources[:-1])",
                      "    return accumulator.jvp(inner, unconnected_gradients=zero)"]
        else:
            record = ["    with tf.GradientTape() as tape:",
                      "        inner = derivative(*sources[:-1])",
                      "    return tape.gradient(inner, sources[-1], unconnected_gradients=zero)"]
        lines += [
            "def f():",
            f"    return {expression}",
            "",
            "",
            "def derivative(*sources):  # by each in turn, the outermost level for the last",
            "    zero = tf.UnconnectedGradients.ZERO",
            "    if not sources:",
            "        return f()",
            *record,
            "",
            "",
        ]
    lines.append(f'with tf.device("{where}"):')
    for name in request.variables:
        kind = "Variable" if name in needed else "constant"
        lines.append(f"    {names.var[name]} = tf.{kind}(padded({points[name]}), dtype=dt)")
    if _simple(request):
        lines += ["    with tf.GradientTape() as tape:", f"        value = {expression}"]
        sources = [names.var[label] for label in request.wrt]
        grads = [names.grad[label] for label in request.wrt]
        if len(sources) == 1:
            lines.append(f"    {grads[0]} = tape.gradient(value, {sources[0]})")
        else:
            lines.append(f"    {', '.join(grads)} = tape.gradient(value, [{', '.join(sources)}])")
        lines.append(f'print("f =", {_first(request, "value.numpy().tolist()")})')
        lines += [_print(label, _first(request, f"{names.grad[label]}.numpy().tolist()"))
                  for label in request.wrt]
        return _tidy(lines)
    lines += ["    value = f()", f'    print("f =", {_first(request, "value.numpy().tolist()")})']
    for label, partial in zip(request.wrt, request.partials, strict=True):
        by = ", ".join(names.var[v] for v in partial)
        lines.append("    " + _print(label, _first(request,
                                                   f"derivative({by}).numpy().tolist()")))
    return _tidy(lines)


def jax_script(request: Request) -> str:
    names = _Names(request.variables)
    expression = _expression(request, JAX_FUNCTIONS, names)
    points = _points(request, scalar=False)
    simple = _simple(request)
    order = list(request.variables)
    if simple:  # the backend differentiates a function of (wrt..., the others...)
        order = [*request.wrt, *(n for n in request.variables if n not in request.wrt)]
    params = ", ".join(names.var[name] for name in order)
    special = ["import jax.scipy.special"] if "jax.scipy.special." in expression else []
    lines = [*_header(request, "jax"), *_imports_math(expression), "import jax",
             "import jax.numpy as jnp", *special, ""]
    if request.dtype == "float64":
        lines += ['jax.config.update("jax_enable_x64", True)  # else float64 is float32', ""]
    lines += [f"dt = jnp.{request.dtype}", "", "",
              "def c(v):  # a literal: an array of the dtype, as gradcheck builds it",
              "    return jnp.asarray(v, dtype=dt)", "", "", *_whole_vectors(request),
              f"def f({params}):", f"    return {expression}", "", ""]
    if request.mode == "forward":
        lines += [
            "def along(g, i):  # g's derivative in its argument i: jax.jvp, tangent 1",
            "    def tangent(*args):",
            "        def moving(a):",
            "            return g(*args[:i], a, *args[i + 1:])",
            "",
            "        return jax.jvp(moving, (args[i],), (jnp.ones_like(args[i]),))[1]",
            "",
            "    return tangent",
            "",
            "",
        ]
    lines.append(f'with jax.default_device(jax.devices("{request.device}")[0]):')
    for name in order:
        lines.append(f"    {names.var[name]} = jnp.asarray(padded({points[name]}), dtype=dt)")
    if simple:
        argnums = "" if len(request.wrt) == 1 else f", argnums={tuple(range(len(request.wrt)))}"
        grads = [names.grad[label] for label in request.wrt]
        unpacked = grads[0] if len(grads) == 1 else f"({', '.join(grads)})"
        lines.append(f"    value, {unpacked} = jax.vmap(jax.value_and_grad(f{argnums}))"
                     f"({params})")
        lines.append(f'print("f =", {_first(request, "value.tolist()")})')
        lines += [_print(label, _first(request, f"{names.grad[label]}.tolist()"))
                  for label in request.wrt]
        return _tidy(lines)
    template = "along({}, {})" if request.mode == "forward" else "jax.grad({}, argnums={})"
    lines += [f"    value = jax.vmap(f)({params})",
              f'    print("f =", {_first(request, "value.tolist()")})']
    for label, partial in zip(request.wrt, request.partials, strict=True):
        call = _nest("f", partial, request.variables, template)
        lines.append("    " + _print(label, _first(request,
                                                   f"jax.vmap({call})({params}).tolist()")))
    return _tidy(lines)


def _tidy(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


#: backend -> printer; backends without one (analytic, finite-diff, plugins) get none.
PRINTERS: dict[str, Callable[[Request], str]] = {
    "torch": torch_script,
    "tensorflow": tensorflow_script,
    "jax": jax_script,
}


def scripts(request: Request) -> dict[str, str]:
    """Its script for every backend of ``request`` that has a printer, keyed by the
    backend, or by "backend:mode" when both modes are asked (a script per mode)."""
    from dataclasses import replace

    found: dict[str, str] = {}
    for name in request.backends:
        if name not in PRINTERS:
            continue
        for mode in request.modes:
            key = name if request.mode != "both" else f"{name}:{mode}"
            found[key] = script(name, replace(request, mode=mode))
    return found


def script(backend: str, request: Request) -> str:
    """The backend's script for ``request``; where the framework has no native op for a
    function of it, a comment that says so (its row is ``unsupported``: nothing ran)."""
    why = natives.unsupported(backend, request.expr)
    if why is not None:
        return (f"# gradcheck --show-code: {backend}, {request.dtype}, {request.device}\n"
                f"# not run: {why}\n")
    return PRINTERS[backend](request)


def sweep_scripts(report: Any, wrt: tuple[str, ...], order: int,
                  device: str) -> list[tuple[Any, str]]:
    """For a sweep (:class:`report.SweepReport`): per framework row that has a printer
    and a worst point, the script of a point check there: the sweep's worst point for
    that row (largest ULP error), every other variable at its fixed value. A sweep of a
    million points is no bug report; its worst point is."""
    from autograd_cli.inputs import build_request

    found: list[tuple[Any, str]] = []
    for row in report.rows:
        if row.backend not in PRINTERS or row.worst_at is None or row.failed:
            continue
        point = {**report.fixed, report.swept: row.worst_at}
        request = build_request(report.expression, [point], wrt, row.dtype, (row.backend,),
                                device=device, order=order, mode=row.mode or "reverse")
        ulps = "" if row.max_ulp_error is None else f" ({row.max_ulp_error:.3g} ULP)"
        where = f"{report.swept} = {literal(row.worst_at)}"
        found.append((row, f"# the sweep's worst point for {row.series} in {row.dtype}: "
                           f"{where}{ulps}\n" + script(row.backend, request)))
    return found


__all__ = ["PRINTERS", "literal", "script", "scripts", "source_ops", "sweep_scripts"]
