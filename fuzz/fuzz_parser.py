"""Coverage-guided fuzzing of the expression parser with atheris (libFuzzer).

Why: the parser is the one door user text comes through; hypothesis samples the
grammar, a coverage-guided fuzzer instead grows inputs that reach new branches of
``ast.parse``, our diagnosis of syntax errors, literal sizing and the constant
estimates. The contract checked for any bytes (decoded as UTF-8 with replacement):
``parse`` returns a tree or raises ExpressionError, nothing else; an error's span lies
in the text and renders; every node's span re-parses to the same subtree, and every
call's parameters are numbers (given: their signed literal; omitted: the default). Anything else
is a crash, and so is an input slower than libFuzzer's ``-timeout``.

    .venv/bin/pip install atheris
    mkdir -p build/fuzz-corpus
    .venv/bin/python fuzz/fuzz_parser.py -max_total_time=60 -timeout=5 \\
        -artifact_prefix=fuzz/crashes/ build/fuzz-corpus fuzz/corpus

New corpus entries go to the first folder (build/, ignored by git); crashing inputs to
fuzz/crashes/, where tests/test_fuzz_regressions.py replays them with ``check``.
``check`` imports no atheris, so the replay runs wherever the tests do.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def check(data: bytes) -> None:
    """Raise (AssertionError or whatever escaped) when ``data`` breaks the contract."""
    from autograd_cli.expr.functions import FUNCTIONS
    from autograd_cli.expr.nodes import Binary, Call, Num, Unary
    from autograd_cli.expr.parser import ExpressionError, parse

    def shape(node: object) -> object:
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Unary):
            return (node.op, shape(node.operand))
        if isinstance(node, Binary):
            return (node.op, shape(node.left), shape(node.right))
        if isinstance(node, Call):
            return (node.func, *(shape(a) for a in node.args))
        return getattr(node, "name", None)

    def walk(node: object) -> list[object]:
        """Nodes whose span is their own text: a call's inputs, not its parameters."""
        found = [node]
        args = getattr(node, "args", ())
        if isinstance(node, Call):
            args = args[: FUNCTIONS[node.func].arity]
        for child in (getattr(node, "operand", None), getattr(node, "left", None),
                      getattr(node, "right", None), *args):
            if child is not None:
                found += walk(child)
        return found

    def number(node: object) -> object:
        if isinstance(node, Unary):
            value = number(node.operand)
            return -value if node.op == "neg" else value  # type: ignore[operator]
        assert isinstance(node, Num), node
        return node.value

    def parameters(text: str, call: Call) -> None:
        """Given parameters span their signed literal; defaults are empty spans at ')'."""
        spec = FUNCTIONS[call.func]
        params = call.args[spec.arity :]
        assert len(params) == len(spec.params), call
        for param, arg in zip(spec.params, params, strict=True):
            assert isinstance(arg, Num), arg
            if arg.span.start == arg.span.end:
                assert arg.span.start == call.span.end - 1 and arg.value == param.default
            else:
                assert number(parse(text[arg.span.start : arg.span.end])) == arg.value

    text = data.decode("utf-8", "replace")
    try:
        expr = parse(text)
    except ExpressionError as error:
        assert 0 <= error.span.start <= error.span.end, error.span
        assert error.span.end <= max(len(text), error.span.start), (error.span, len(text))
        assert "\n" not in str(error), str(error)
        assert error.render().startswith("error: ")
        return
    for node in walk(expr):
        span = node.span  # type: ignore[attr-defined]
        assert 0 <= span.start < span.end <= len(text), (span, len(text))
        again = parse(text[span.start : span.end])
        assert shape(again) == shape(node), (text[span.start : span.end], node)
        if isinstance(node, Call):
            parameters(text, node)


def main() -> None:
    import atheris

    import autograd_cli  # the package (numpy and all) outside the instrumentation

    if "autograd_cli.expr.parser" in sys.modules:
        print("warning: the parser loaded before instrumentation: coverage is blind",
              file=sys.stderr)
    with atheris.instrument_imports(include=["autograd_cli.expr"]):
        import autograd_cli.expr.nodes
        import autograd_cli.expr.parser

    del autograd_cli

    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
