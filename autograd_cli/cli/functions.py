"""``gradcheck functions``: the vocabulary, and which op each framework calls for it.

Why its own command: a user comparing frameworks needs to know what is compared, the
exact definition gradcheck judges against, the parameters and their defaults, and the
op each framework computes it with (or that it has none, so its row will say
``unsupported``). Read from the function table and :mod:`autograd_cli.backends.natives`
alone: no framework, SymPy or numpy is imported.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from autograd_cli.expr.functions import FUNCTIONS, Function


def _number(value: Any) -> str:
    return str(value.numerator) if value.denominator == 1 else repr(float(value))


def rows() -> list[dict[str, Any]]:
    """One entry per function, in the table's order (the JSON ``gradcheck functions``
    prints)."""
    from autograd_cli.backends.natives import NATIVES, Missing, describe

    found = []
    for function in FUNCTIONS.values():
        frameworks: dict[str, Any] = {}
        for framework, table in NATIVES.items():
            spelling = table[function.name]
            frameworks[framework] = {
                "call": None if isinstance(spelling, Missing) else describe(framework,
                                                                            function.name),
                "reason": spelling.why if isinstance(spelling, Missing) else None,
            }
        found.append({
            "name": function.name,
            "signature": function.signature(),
            "meaning": function.meaning,
            "definition": function.definition,
            "arity": function.arity,
            "params": [{"name": p.name,
                        "default": None if p.default is None else float(p.default)}
                       for p in function.params],
            "aliases": list(function.aliases),
            "frameworks": frameworks,
        })
    return found


def _defaults(function: Function) -> str:
    return ", ".join(p.name if p.default is None else f"{p.name} = {_number(p.default)}"
                     for p in function.params)


@click.command("functions")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def functions_command(fmt: str) -> None:
    """List the functions an expression may use: signature, definition, parameters and
    their defaults, aliases, and the op each framework calls ("none": that framework's
    row says unsupported). Imports no framework."""
    found = rows()
    if fmt == "json":
        click.echo(json.dumps(found, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False, show_lines=True)
    for column in ("function", "definition", "torch", "tensorflow", "jax"):
        table.add_column(column, overflow="fold")
    for row in found:
        function = FUNCTIONS[row["name"]]
        about = [row["signature"]]
        if function.params:
            about.append(f"defaults: {_defaults(function)}")
        if function.aliases:
            about.append(f"also: {', '.join(function.aliases)}")
        cells = [
            "none" if entry["call"] is None else entry["call"]
            for entry in row["frameworks"].values()
        ]
        table.add_row("\n".join(about), f"{row['meaning']}: {row['definition']}", *cells)
    Console(width=200, highlight=False, no_color=not sys.stdout.isatty()).print(table)
    missing = [(name, f, entry["reason"]) for name, f, entry in (
        (row["name"], framework, entry) for row in found
        for framework, entry in row["frameworks"].items()) if entry["call"] is None]
    for name, framework, reason in missing:
        click.echo(f"{framework} has no native {name} op: {reason}", err=False)
