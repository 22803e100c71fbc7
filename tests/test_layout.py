"""The house rules, read from the source: no module uses another module's private
names, and modules do not import each other in a cycle (lazy imports included: a cycle
hidden in a function is still two modules that each need the other)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "autograd_cli"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING``."""
    for node in ast.iter_child_nodes(tree):
        if type_checking_only(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from imports(node)


def resolve(name: str) -> str | None:
    """The gradcheck module ``name`` is, or lives in (for ``from M import symbol``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def edges(module: str) -> Iterator[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for each gradcheck import."""
    tree = ast.parse(MODULES[module].read_text())
    for node in imports(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (target := resolve(alias.name)) is not None:
                    yield target, "", node.lineno
        elif node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in MODULES:
                    yield submodule, "", node.lineno
                elif (target := resolve(node.module)) is not None:
                    yield target, alias.name, node.lineno


def private_uses(module: str) -> Iterator[str]:
    tree = ast.parse(MODULES[module].read_text())
    aliases: dict[str, str] = {}
    for target, name, line in edges(module):
        if name.startswith("_") and not name.startswith("__") and target != module:
            yield f"{module}:{line} imports {target}.{name}"
    for node in imports(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            yield f"{module}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}"


def test_the_layout_is_read_from_the_package() -> None:
    assert {"autograd_cli.cli", "autograd_cli.truth.point", "autograd_cli.core.model"} <= set(
        MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_uses_another_modules_private_names(module: str) -> None:
    assert list(private_uses(module)) == []


def cycles() -> list[list[str]]:
    graph = {m: sorted({t for t, _, _ in edges(m) if t != m and not m.startswith(t + ".")})
             for m in MODULES}
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module)
    return found


def test_no_import_cycles() -> None:
    assert cycles() == []


def test_the_rules_catch_what_they_forbid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks above can fail: two made-up modules that break both rules."""
    (tmp_path / "autograd_cli").mkdir()
    a, b = tmp_path / "autograd_cli" / "a.py", tmp_path / "autograd_cli" / "b.py"
    a.write_text("from autograd_cli.b import _hidden\n")
    b.write_text("def f():\n    from autograd_cli import a\n    return a._x\n")
    here = sys.modules[__name__]
    monkeypatch.setattr(here, "PACKAGE", tmp_path / "autograd_cli")
    monkeypatch.setattr(here, "MODULES", {"autograd_cli.a": a, "autograd_cli.b": b})
    assert list(private_uses("autograd_cli.a")) == [
        "autograd_cli.a:1 imports autograd_cli.b._hidden"]
    assert list(private_uses("autograd_cli.b")) == ["autograd_cli.b:3 uses autograd_cli.a._x"]
    assert cycles() == [["autograd_cli.a", "autograd_cli.b", "autograd_cli.a"]]
