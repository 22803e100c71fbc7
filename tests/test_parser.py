"""The parser: the language it admits, the errors it explains, the limits it enforces."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
import warnings
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_cli.expr import FUNCTIONS, parse, variables
from autograd_cli.expr.constant_values import format_value
from autograd_cli.expr.functions import ALIASES, SELU_ALPHA
from autograd_cli.expr.nodes import Binary, Call, Const, Expr, Num, Span, Unary, Var
from autograd_cli.expr.parser import (
    DEPTH_WEIGHTS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NODES,
    MAX_VARIABLES,
    ExpressionError,
)


def shape(expr: Expr) -> Any:
    """The tree without spans or literal spelling, for structural comparison."""
    if isinstance(expr, Num):
        return expr.value
    if isinstance(expr, (Var, Const)):
        return expr.name
    if isinstance(expr, Unary):
        return (expr.op, shape(expr.operand))
    if isinstance(expr, Binary):
        return (expr.op, shape(expr.left), shape(expr.right))
    return (expr.func, *(shape(a) for a in expr.args))


def walk(expr: Expr) -> list[Expr]:
    """Every node whose span is its own text: a call's parameters are not (a default has
    an empty span, ``-0.5`` is one number), see :func:`check_parameters`."""
    children: tuple[Expr, ...] = ()
    if isinstance(expr, Unary):
        children = (expr.operand,)
    elif isinstance(expr, Binary):
        children = (expr.left, expr.right)
    elif isinstance(expr, Call):
        children = expr.args[: FUNCTIONS[expr.func].arity]
    return [expr, *(n for c in children for n in walk(c))]


def number_of(expr: Expr) -> Fraction:
    """A signed literal's value: -(+0.5) is -1/2."""
    if isinstance(expr, Unary):
        return -number_of(expr.operand) if expr.op == "neg" else number_of(expr.operand)
    assert isinstance(expr, Num), expr
    return expr.value


def check_parameters(text: str, expr: Expr) -> None:
    """Each call's parameters are numbers: given ones span their (signed) literal,
    omitted ones are the default, with an empty span at the closing parenthesis."""
    for node in walk(expr):
        if not isinstance(node, Call):
            continue
        spec = FUNCTIONS[node.func]
        params = node.args[spec.arity :]
        assert len(params) == len(spec.params), node
        for param, arg in zip(spec.params, params, strict=True):
            assert isinstance(arg, Num), arg
            if arg.span.start == arg.span.end:
                assert arg.span.start == node.span.end - 1 and text[arg.span.start] == ")"
                assert arg.value == param.default
            else:
                assert number_of(parse(text[arg.span.start : arg.span.end])) == arg.value


def error(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    return info.value


# --- the language -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "op"),
    [("x + y", "add"), ("x - y", "sub"), ("x * y", "mul"), ("x / y", "div"), ("x ** y", "pow")],
)
def test_each_binary_operator(text: str, op: str) -> None:
    n = len(text)
    expected = Binary(op, Var("x", Span(0, 1)), Var("y", Span(n - 1, n)), Span(0, n))  # type: ignore[arg-type]
    assert parse(text) == expected


def test_unary_minus_and_plus() -> None:
    assert parse("-x") == Unary("neg", Var("x", Span(1, 2)), Span(0, 2))
    assert parse("+x") == Unary("pos", Var("x", Span(1, 2)), Span(0, 2))
    assert shape(parse("--x")) == ("neg", ("neg", "x"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2*x**3", ("add", 1, ("mul", 2, ("pow", "x", 3)))),
        ("(1 + 2)*x", ("mul", ("add", 1, 2), "x")),
        ("-x**2", ("neg", ("pow", "x", 2))),
        ("x**-2", ("pow", "x", ("neg", 2))),
        ("x**2**3", ("pow", "x", ("pow", 2, 3))),
        ("x - y - z", ("sub", ("sub", "x", "y"), "z")),
        ("x / y / z", ("div", ("div", "x", "y"), "z")),
        ("x / y * z", ("mul", ("div", "x", "y"), "z")),
        ("2*pi*e", ("mul", ("mul", 2, "pi"), "e")),
        ("sin(x)**2 + cos(x)**2", ("add", ("pow", ("sin", "x"), 2), ("pow", ("cos", "x"), 2))),
        ("((x))", "x"),
    ],
)
def test_precedence_and_associativity(text: str, expected: Any) -> None:
    assert shape(parse(text)) == expected


def test_constants_are_const_nodes() -> None:
    assert parse("pi") == Const("pi", Span(0, 2))
    assert parse("e") == Const("e", Span(0, 1))
    assert variables(parse("pi*e*x")) == ("x",)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_each_function(name: str) -> None:
    """Its inputs (x, then y) and its required parameters; defaults are filled in."""
    spec = FUNCTIONS[name]
    inputs = ["x", "y"][: spec.arity]
    required = [str(-1 - 2 * i) for i, p in enumerate(spec.params) if p.default is None]
    text = f"{name}({', '.join(inputs + required)})"
    args: list[Expr] = []
    at = len(name) + 1
    for piece in inputs + required:
        span = Span(at, at + len(piece))
        args.append(Var(piece, span) if piece in inputs else Num(Fraction(piece), piece, span))
        at += len(piece) + 2
    end = Span(len(text) - 1, len(text) - 1)
    for param in spec.params[len(required) :]:
        assert param.default is not None
        args.append(Num(param.default, format_value(float(param.default)), end))
    assert parse(text) == Call(name, tuple(args), Span(0, len(text)))


def test_parameters_are_signed_numbers_and_defaults_are_filled() -> None:
    assert shape(parse("leaky_relu(x)")) == ("leaky_relu", "x", Fraction(1, 100))
    assert shape(parse("leaky_relu(x, 0.2)")) == ("leaky_relu", "x", Fraction(1, 5))
    assert shape(parse("elu(x, -1.5)")) == ("elu", "x", Fraction(-3, 2))
    assert shape(parse("clip(x, -(1), +2e0)")) == ("clip", "x", -1, 2)
    assert shape(parse("clip(x - 1, - 0.5, --3)")) == ("clip", ("sub", "x", 1), Fraction(-1, 2), 3)
    assert shape(parse("atan2(y, x)")) == ("atan2", "y", "x")
    assert shape(parse("selu(x)")) == ("selu", "x")  # its constants are no parameters
    assert SELU_ALPHA > 1
    text = "elu(x, -0.5)"
    param = parse(text).args[1]  # type: ignore[attr-defined]
    assert param == Num(Fraction(-1, 2), "-0.5", Span(7, 11))
    default = parse("elu(x)").args[1]  # type: ignore[attr-defined]
    assert default == Num(Fraction(1), "1", Span(5, 5))  # at the closing parenthesis
    assert variables(parse("leaky_relu(x, 0.3) + clip(y, -1, 1)")) == ("x", "y")


@pytest.mark.parametrize(("alias", "name"), sorted(ALIASES.items()))
def test_aliases_parse_as_the_function_they_name(alias: str, name: str) -> None:
    inputs = ", ".join(["x", "y"][: FUNCTIONS[name].arity])
    required = [str(i) for i, p in enumerate(FUNCTIONS[name].params) if p.default is None]
    text = f"{alias}({', '.join([inputs, *required])})"
    assert shape(parse(text)) == shape(parse(text.replace(alias, name, 1)))
    assert {"swish", "clamp", "logsigmoid", "hardsigmoid"} <= set(ALIASES)


def test_parameters_and_inputs_count_toward_the_limits() -> None:
    times = (MAX_DEPTH - 1) // DEPTH_WEIGHTS["leaky_relu"]  # a parameter is an input's level
    deep = "leaky_relu(" * times + "x" + ", 0.1)" * times
    assert shape(parse(deep))[0] == "leaky_relu"
    too_deep = error("leaky_relu(" * (times + 1) + "x" + ", 0.1)" * (times + 1))
    assert "nested too deeply" in too_deep.message
    assert too_deep.hint is not None and too_deep.hint.startswith("leaky_relu counts as 2")
    # clip(x, 1, 2) is 4 nodes (the call, x and its two parameters), and a + each
    assert parse(balanced_sum(MAX_NODES // 5, "clip(x, 1, 2)"))
    assert "too large" in error(balanced_sum(MAX_NODES // 5 + 1, "clip(x, 1, 2)")).message


def test_variables_in_order_of_appearance() -> None:
    assert variables(parse("b*a + sin(c) + a*theta + b")) == ("b", "a", "c", "theta")
    assert variables(parse("3 + pi")) == ()


def test_spans_index_the_original_text() -> None:
    text = "sin(x) + 10"
    expr = parse(text)
    assert isinstance(expr, Binary) and isinstance(expr.right, Num)
    assert (expr.span, expr.left.span, expr.right.span) == (Span(0, 11), Span(0, 6), Span(9, 11))


def test_spans_are_characters_not_utf8_bytes() -> None:
    text = "αβ + sin(γ)"
    expr = parse(text)
    assert isinstance(expr, Binary) and isinstance(expr.right, Call)
    gamma = expr.right.args[0]
    assert gamma == Var("γ", Span(9, 10))
    assert text[expr.right.span.start : expr.right.span.end] == "sin(γ)"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.1", Fraction(1, 10)),
        ("1e-3", Fraction(1, 1000)),
        ("2.5E2", Fraction(250)),
        ("1_000", Fraction(1000)),
        ("1_000.000_1", Fraction(10000001, 10000)),
        (".5", Fraction(1, 2)),
        ("5.", Fraction(5)),
        ("1e+2", Fraction(100)),
        ("0e999999999", Fraction(0)),
        ("1e308", Fraction(10) ** 308),
        ("5e-324", Fraction(5, 10**324)),
        ("0.30000000000000004", Fraction(30000000000000004, 10**17)),
    ],
)
def test_numbers_are_exact_fractions_from_the_text(text: str, value: Fraction) -> None:
    assert parse(text) == Num(value, text, Span(0, len(text)))


def test_whitespace_is_read_as_spaces_keeping_offsets() -> None:
    text = "\n  sin(x)\t+\r\n 2\u00a0* y  "
    expr = parse(text)
    assert shape(expr) == ("add", ("sin", "x"), ("mul", 2, "y"))
    for node in walk(expr):
        assert node.span.start < node.span.end <= len(text)
    assert text[expr.span.start : expr.span.end] == "sin(x)\t+\r\n 2\u00a0* y"


def test_unicode_identifiers_are_variables() -> None:
    assert variables(parse("θ*x + é2")) == ("θ", "x", "é2")


def test_parser_emits_no_python_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for text in ("1if 1 else 2", "'\\d'", "x is 1"):
            with pytest.raises(ExpressionError):
                parse(text)
    assert caught == []


# --- errors: message, caret, hint ---------------------------------------------------

KNOWN = "Known functions: " + ", ".join(sorted(FUNCTIONS))
XOR = "'^' is not a power here (in Python it is bitwise xor)"

# text, message, caret start, caret end, hint (None: no hint line)
# fmt: off
ERRORS: list[tuple[str, str, int, int, str | None]] = [
    ("sinn(x) + 1", "unknown function 'sinn'", 0, 4, f"did you mean sin, sinh or sinc? {KNOWN}"),
    ("gammaln(x)", "unknown function 'gammaln'", 0, 7, f"did you mean lgamma or digamma? {KNOWN}"),
    ("loggamma(x)", "unknown function 'loggamma'", 0, 8,
     f"did you mean lgamma or digamma? {KNOWN}"),
    ("psi(x)", "unknown function 'psi'", 0, 3, f"did you mean digamma or sin? {KNOWN}"),
    ("arcsinh(x)", "unknown function 'arcsinh'", 0, 7,
     f"did you mean asinh, sinh or asin? {KNOWN}"),
    ("hardtanh(x)", "unknown function 'hardtanh'", 0, 8,
     f"did you mean clip, atanh, tanh or atan? hardtanh(x) is clip(x, -1, 1). {KNOWN}"),
    ("max(x, y)", "unknown function 'max'", 0, 3,
     f"did you mean maximum? maximum(x, y) is the larger of two values. {KNOWN}"),
    ("min(x, 0)", "unknown function 'min'", 0, 3,
     f"did you mean minimum or sin? minimum(x, y) is the smaller of two values. {KNOWN}"),
    ("leaky_relu(x, y)", "leaky_relu's negative_slope must be a number", 14, 15,
     "write leaky_relu(x, negative_slope=0.01) with numbers for its parameters"),
    ("elu(x, 2*3)", "elu's alpha must be a number", 7, 10,
     "write elu(x, alpha=1) with numbers for its parameters"),
    ("clip(x, -1, pi)", "clip's hi must be a number", 12, 14,
     "write clip(x, lo, hi) with numbers for its parameters"),
    ("clip(x, 1)", "clip takes 3 arguments, got 2", 0, 10,
     "usage: clip(x, lo, hi), the x clipped to [lo, hi]"),
    ("leaky_relu(x, 0.1, 2)", "leaky_relu takes 1 to 2 arguments, got 3", 0, 21,
     "usage: leaky_relu(x, negative_slope=0.01), the leaky rectified linear unit"),
    ("atan2(x)", "atan2 takes 2 arguments, got 1", 0, 8,
     "usage: atan2(y, x), the two-argument inverse tangent"),
    ("relu(x, 2)", "relu takes 1 argument, got 2", 0, 10,
     "usage: relu(x), the rectified linear unit"),
    ('gelu(x, approximate="tanh")', "keyword arguments are not supported", 8, 26,
     "for the tanh approximation write gelu_tanh(x); gelu(x) is the exact erf form"),
    ("leaky_relu(x, negative_slope=0.2)", "keyword arguments are not supported", 14, 32,
     "parameters are positional: write leaky_relu(x, 0.2)"),
    ("clip(x, hi=1, lo=-2)", "keyword arguments are not supported", 8, 12,
     "parameters are positional: write clip(x, -2, 1)"),
    ("ln(x)", "unknown function 'ln'", 0, 2, f"did you mean log? {KNOWN}"),
    ("x(2)", "'x' is not a function", 0, 1, f"to multiply, write x*(2). {KNOWN}"),
    ("pi(x)", "'pi' is a constant, not a function", 0, 2, "did you mean pi*(x)?"),
    ("sin + x", "function 'sin' must be called", 0, 3, "sin is a function: call it as sin(x)"),
    ("sin x", "function 'sin' must be called", 0, 5, "sin is a function: call it as sin(x)"),
    ("2x", "missing operator between 2 and x", 0, 2, "did you mean 2*x?"),
    ("1 + 2sin(x)", "missing operator between 2 and sin(x)", 4, 11, "did you mean 2*sin(x)?"),
    ("3.5x", "missing operator between 3.5 and x", 0, 4, "did you mean 3.5*x?"),
    ("x y", "missing operator between x and y", 0, 3, "did you mean x*y?"),
    ("(x+1)x", "missing operator between (x+1) and x", 0, 6, "did you mean (x+1)*x?"),
    ("2(x+1)", "missing operator between 2 and (x+1)", 0, 6, "did you mean 2*(x+1)?"),
    ("(x+1)(x-1)", "missing operator between (x+1) and (x-1)", 0, 10, "did you mean (x+1)*(x-1)?"),
    ("x^2", XOR, 1, 2, "use ** for powers: x**2"),
    ("(x+1) ^ (y)", XOR, 6, 7, "use ** for powers: (x+1)**(y)"),
    ("(x+1", "'(' is never closed", 0, 1, "add the missing ')'"),
    ("sin(x))", "unmatched ')'", 6, 7, "remove it or add its opening bracket"),
    ("sin(x]", "']' does not match '(' (column 4)", 5, 6, "close '(' with ')'"),
    ("x +", "incomplete expression: nothing after '+'", 2, 3, None),
    ("x + * 2", "invalid syntax: unexpected '*'", 4, 5, None),
    ("x = 2*y", "assignment is not supported: write only the expression", 2, 3,
     "did you mean 2*y?"),
    ("x;y", "';' is not allowed: write a single expression", 1, 2, None),
    ("x × 2", "invalid character '×' (U+00D7 MULTIPLICATION SIGN)", 2, 3,
     "use * for multiplication"),
    ("x²", "invalid character '²' (U+00B2 SUPERSCRIPT TWO)", 1, 2, "use ** for powers, e.g. x**2"),
    ("x − 1", "invalid character '−' (U+2212 MINUS SIGN)", 2, 3, "use the ASCII minus sign -"),
    ("x!", "invalid character '!' (U+0021 EXCLAMATION MARK)", 1, 2,
     "factorials and '!' are not supported"),
    ("x\x00", "invalid character (U+0000)", 1, 2, None),
    ("007", "leading zeros are not allowed in integers", 0, 3, "write 7"),
    ("0x1F", "only decimal numbers are supported", 0, 4, None),
    ("2j", "complex numbers are not supported", 0, 2, "for a variable j, write 2*j"),
    ("x < 1", "comparisons are not supported", 2, 3, None),
    ("x is not y", "comparisons are not supported", 2, 8, None),
    ("x and y", "'and' is not supported: no booleans", 2, 5, None),
    ("not x", "'not' is not supported: no booleans", 0, 3, None),
    ("True + x", "True is not supported: only numbers, names and functions", 0, 4, None),
    ("None", "None is not supported: only numbers, names and functions", 0, 4, None),
    ("x % 2", "'%' (remainder) is not supported", 2, 3, None),
    ("x // 2", "'//' (floor division) is not supported", 2, 4, "use / for division"),
    ("x @ y", "'@' (matrix multiplication) is not supported", 2, 3, "use * for multiplication"),
    ("x | y", "bit operators are not supported: '|'", 2, 3, None),
    ("x << 1", "bit operators are not supported: '<<'", 2, 4, None),
    ("~x", "'~' (bit inversion) is not supported", 0, 1, None),
    ("math.sin(x)", "attribute access is not allowed: write sin(x), not math.sin(x)", 0, 8, None),
    ("2*math.pi", "attribute access is not allowed: write pi, not math.pi", 2, 9, None),
    ("x.real", "attribute access (a.b) is not allowed", 0, 6, None),
    ("'x**2'", "strings are not supported", 0, 6, "write the expression without quotes"),
    ("'x**2", "strings are not supported", 0, 5, "write the expression without quotes"),
    ("x[1]", "indexing with [...] is not supported", 0, 4, "use parentheses ( ) for grouping"),
    ("sin[x]", "indexing with [...] is not supported", 0, 6,
     "call functions with parentheses: sin(x)"),
    ("[x]", "lists [...] are not supported", 0, 3, "use parentheses ( ) for grouping"),
    ("{x: 1}", "braces { } are not supported", 0, 6, "use parentheses ( ) for grouping"),
    ("lambda: 1", "lambda is not allowed", 0, 9, None),
    ("x if y else 1", "conditional expressions (... if ... else ...) are not supported", 0, 13,
     None),
    ("(y := 2)", "assignment (:=) is not supported", 1, 7, "write only the expression"),
    ("1,5", "a single expression is expected, not a comma-separated list", 0, 3,
     "for a decimal number use a point: 1.5"),
    ("()", "empty parentheses", 0, 2, "put an expression inside"),
    ("sin(x, y=2)", "keyword arguments are not supported", 7, 10,
     "write sin(x), with arguments in order"),
    ("sin(*a)", "starred arguments (*args) are not supported", 4, 6, None),
    ("sin(x, y)", "sin takes 1 argument, got 2", 0, 9, "usage: sin(x), the sine"),
    ("exp()", "exp takes 1 argument, got none", 0, 5, "usage: exp(x), the exponential"),
    ("x # comment", "comments (#) are not supported", 2, 11, None),
    ("import os", "'import' is a reserved word and not supported here", 0, 6, None),
    ("x..y", "invalid syntax: unexpected '.'", 2, 3, None),
    ("π*x", "'π' is not a name here", 0, 1, "write pi for the constant"),
    ("1e400", "number 1e400 is too large (the limit is 1e308)", 0, 5,
     "numbers must fit in a float64"),
    ("x + 1e-400", "number 1e-400 is too small: it would round to 0 in float64", 4, 10,
     "nonzero numbers must be at least 1e-324; write 0 for zero"),
]
# fmt: on


@pytest.mark.parametrize(("text", "message", "start", "end", "hint"), ERRORS)
def test_rejections_render_message_caret_and_hint(
    text: str, message: str, start: int, end: int, hint: str | None
) -> None:
    err = error(text)
    shown = text.replace("\x00", "?")
    expected = [f"error: {message}", f"  {shown}", "  " + " " * start + "^" * (end - start)]
    if hint is not None:
        expected.append(f"hint: {hint}")
    assert err.render().splitlines() == expected
    assert err.span == Span(start, end)
    assert str(err) == f"{message} (at column {start + 1})"


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_input(text: str) -> None:
    err = error(text)
    assert err.message == "empty expression"
    assert err.render().splitlines() == [
        "error: empty expression",
        "hint: type an expression such as 2*x**3 + 1",
    ]


def test_caret_lines_up_under_wide_characters() -> None:
    err = error("ｓｉｎ(x)")
    assert err.render().splitlines()[1:] == ["  ｓｉｎ(x)", "  ^^^^^^", "hint: write sin"]
    err = error("日本 + 2x")
    assert err.render().splitlines()[2] == "  " + " " * 7 + "^^"  # 日 and 本 are 2 wide


def test_tabs_and_newlines_render_as_spaces() -> None:
    lines = error("x\t+\n2x").render().splitlines()
    assert lines[1:3] == ["  x + 2x", "      ^^"]


def test_long_text_is_shown_as_a_window_around_the_caret() -> None:
    text = "x + " * 100 + "2x" + " + x" * 100
    lines = error(text).render().splitlines()
    assert lines[1].startswith("  ...") and lines[1].endswith("...")
    assert len(lines[1]) < 90
    caret = lines[2].index("^")
    assert lines[1][caret : caret + 2] == "2x" and lines[2].count("^") == 2


def test_error_is_a_value_error_and_pickles() -> None:
    err = error("2x")
    assert isinstance(err, ValueError)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.text, copy.span, copy.hint) == (err.text, err.span, err.hint)
    assert copy.render() == err.render()


# --- limits -------------------------------------------------------------------------


def test_length_limit_refuses_before_parsing() -> None:
    assert isinstance(parse("x" * MAX_LENGTH), Var)
    err = error("x" * (MAX_LENGTH + 1))
    assert err.span == Span(MAX_LENGTH, MAX_LENGTH + 1)
    assert "too long" in err.message
    huge = error("(" * 10_000_000)
    assert huge.span == Span(MAX_LENGTH, 10_000_000) and "too long" in huge.message


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("sin(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH, 4 * MAX_DEPTH),
        ("-" * MAX_DEPTH + "x", MAX_DEPTH),
        ("x**" * MAX_DEPTH + "x", 3 * MAX_DEPTH - 3),
        ("+".join(["x"] * (MAX_DEPTH + 1)), 0),
        ("(" * 300 + "x" + ")" * 300, 200),
        ("-" * (MAX_LENGTH - 1) + "x", None),  # Python itself may give up first
        ("+".join(["x"] * (MAX_LENGTH // 2)), None),
        ("(x)" * 600, 0),
    ],
)
def test_depth_limit(text: str, start: int | None) -> None:
    err = error(text)
    assert err.message == f"expression is nested too deeply (the limit is {MAX_DEPTH} levels)"
    assert start is None or err.span.start == start


def test_depth_limit_admits_its_own_depth() -> None:
    deepest = "sin(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1)
    assert shape(parse(deepest))[0] == "sin"


def balanced_sum(leaves: int, leaf: str = "x") -> str:
    if leaves == 1:
        return leaf
    half = leaves // 2
    return f"({balanced_sum(half, leaf)}+{balanced_sum(leaves - half, leaf)})"


def test_node_limit() -> None:
    leaves = (MAX_NODES + 1) // 2  # 2*leaves - 1 nodes
    assert len(walk(parse(balanced_sum(leaves)))) == 2 * leaves - 1 <= MAX_NODES
    err = error(balanced_sum(leaves + 1))
    assert err.message.startswith(f"expression is too large: more than {MAX_NODES}")


def test_variable_limit() -> None:
    names = [f"v{i}" for i in range(MAX_VARIABLES + 1)]
    assert len(variables(parse("+".join(names[:-1])))) == MAX_VARIABLES
    text = "+".join(names)
    err = error(text)
    assert err.span == Span(len(text) - len(names[-1]), len(text))
    assert f"the limit is {MAX_VARIABLES}" in err.message
    assert variables(parse("*".join(["x"] * 40))) == ("x",)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        (f"x**{MAX_EXPONENT + 1}", 3, 3 + len(str(MAX_EXPONENT + 1))),
        (f"x**-{MAX_EXPONENT + 1}", 3, 4 + len(str(MAX_EXPONENT + 1))),
        ("x**(10*200)", 4, 10),
        ("x**1e300", 3, 8),
    ],
)
def test_exponent_limit(text: str, start: int, end: int) -> None:
    err = error(text)
    assert "is too large" in err.message and f"limit is {MAX_EXPONENT}" in err.message
    assert err.span == Span(start, end)


def test_exponent_limit_admits_its_bound_and_variable_exponents() -> None:
    assert shape(parse(f"x**{MAX_EXPONENT}")) == ("pow", "x", MAX_EXPONENT)
    assert shape(parse(f"x**-{MAX_EXPONENT}")) == ("pow", "x", ("neg", MAX_EXPONENT))
    assert shape(parse("2**x")) == ("pow", 2, "x")
    assert shape(parse("x**0.5")) == ("pow", "x", Fraction(1, 2))


def test_tower_of_powers_is_refused_quickly() -> None:
    started = time.perf_counter()
    err = error("9**9**9**9")
    elapsed = time.perf_counter() - started
    assert err.span == Span(6, 10)  # the exponent 9**9 = 387420489 of 9**(9**9)
    assert err.message.startswith("exponent 387420489 is too large")
    assert elapsed < 1.0  # exact integer arithmetic would never finish


OVERFLOW = "this constant overflows: its value is beyond the float64 range (about 1.8e308)"


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("(10**300)**10", 0, 13),
        ("x + 1e308*10", 4, 12),
        ("2**1024", 0, 7),
        ("x*exp(1000)", 2, 11),
        ("1e300/1e-10 + x", 0, 11),
        ("-cosh(800)", 1, 10),
        ("x + square(1e200)", 4, 17),
        ("expm1(710)*x", 0, 10),
        ("x*lgamma(1e307)", 2, 15),
        ("hypot(1e308, 2e307*8) + x", 0, 21),
        ("x - softplus(1e300)*1e10", 4, 24),
    ],
)
def test_overflowing_constant_subtree(text: str, start: int, end: int) -> None:
    err = error(text)
    assert err.message == OVERFLOW
    assert err.span == Span(start, end)


@pytest.mark.parametrize(
    "text",
    [
        "2**1023",
        "10**-400",
        "x*1e308*10",
        "1/0 + x",
        "log(-1)",
        "sqrt(-2)*x",
        "sigmoid(-1000)",
        "erfinv(1)*x",  # a pole, not an overflow: the backends say inf
        "lgamma(-2) + x",
        "digamma(0)*x",
        "xlogy(0, 0) + x",
        "gelu_tanh(1e300)*x",  # its x**3 overflows inside, its value does not
        "rsqrt(0)*x",
        "clip(1e308, -1, 1)*1e308*x",
    ],
)
def test_constants_that_do_not_overflow_are_kept(text: str) -> None:
    assert isinstance(parse(text), (Binary, Call))


def test_parser_imports_nothing_heavy() -> None:
    code = (
        "import sys, autograd_cli.expr.parser as p; p.parse('sin(x)**2')\n"
        "heavy = {'numpy', 'sympy', 'mpmath', 'torch', 'tensorflow'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# --- fuzzing: anything at all is an Expr or an ExpressionError ------------------------


def check_total(text: str) -> None:
    try:
        expr = parse(text)
    except ExpressionError as err:
        assert 0 <= err.span.start <= err.span.end <= max(len(text), err.span.start)
        assert "\n" not in str(err)
        rendered = err.render()
        assert rendered.startswith("error: ") and err.message in rendered
        return
    for node in walk(expr):
        assert 0 <= node.span.start < node.span.end <= len(text)
    check_parameters(text, expr)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_any_text_parses_or_raises_expression_error(text: str) -> None:
    check_total(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.sampled_from(["replace", "surrogateescape"]))
def test_any_bytes_parse_or_raise_expression_error(data: bytes, errors: str) -> None:
    check_total(data.decode("utf-8", errors=errors))


ATOMS = [
    "x",
    "y",
    "2",
    "0.5",
    "1e3",
    "pi",
    "e",
    "sin",
    "exp",
    "leaky_relu",
    "clip",
    "atan2",
    "(",
    ")",
    "+",
    "-",
    "*",
    "/",
    "**",
    "^",
    " ",
    ",",
    ".",
    "2x",
    "=",
    "[",
    "'",
    "#",
    "if",
    "lambda",
    "not",
    "×",
    "é",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ATOMS), max_size=40))
def test_near_miss_expressions_parse_or_raise_expression_error(atoms: list[str]) -> None:
    check_total("".join(atoms))


def expressions() -> st.SearchStrategy[str]:
    leaves = st.sampled_from(["x", "y", "z", "2", "0.25", "3e-2", "1_0", "pi", "e"])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, st.sampled_from(["+", " - ", "*", "/", "**"]), inner).map(
            lambda t: f"({t[0]}{t[1]}{t[2]})"
        )
        unary = st.tuples(st.sampled_from(["-", "+"]), inner).map(lambda t: t[0] + t[1])
        call = st.tuples(st.sampled_from(sorted(FUNCTIONS)), inner, inner, PARAMS).map(call_text)
        return binary | unary | call

    return st.recursive(leaves, extend, max_leaves=12)


#: Parameter lists drawn for calls: the table's defaults fill whatever is left out.
PARAMS = st.lists(st.sampled_from(["-1", "0.5", "2", "-0.25", "1e-2", "+3", "- 1.5"]), max_size=2)


def call_text(drawn: tuple[str, str, str, list[str]]) -> str:
    """A valid call of ``name`` on the drawn inputs and as many drawn parameters as it
    takes (at least the required ones)."""
    name, a, b, params = drawn
    spec = FUNCTIONS[name]
    required = sum(p.default is None for p in spec.params)
    given = [*params, "-2", "3"][: max(required, min(len(params), len(spec.params)))]
    return f"{name}({', '.join([a, b][: spec.arity] + given)})"


@settings(max_examples=150, deadline=None)
@given(expressions())
def test_every_span_reparses_to_the_same_subtree(text: str) -> None:
    try:
        expr = parse(text)
    except ExpressionError as err:  # a constant such as 1_0**(2**1_0)**... may overflow
        assert "overflows" in err.message or "exponent" in err.message
        return
    for node in walk(expr):
        assert shape(parse(text[node.span.start : node.span.end])) == shape(node)
    check_parameters(text, expr)
