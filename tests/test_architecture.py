"""The package's shape: each module keeps to its own state.

No module reads, writes or calls another module's ``_private`` names: an
attribute ``x._name`` may be used only in the module that defines ``_name`` (as a
``self._name`` assignment, a slot, a method or a class attribute), and no
``from .module import _name``. What one module needs of another is a public name
or a narrow interface declared where it is consumed (``request.Connection``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "service"
MODULES = sorted(PACKAGE.rglob("*.py"))


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def owned(tree: ast.Module) -> set[str]:
    """The private names this module defines."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and private(node.name):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and private(node.attr):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and private(node.id):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and private(node.value):
            names.add(node.value)  # a slot
    return names


def foreign_private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mine = owned(tree)
    # Modules imported whole (``import sys``) are other projects': their documented
    # private-looking names (``sys._current_frames``) are not this rule's business.
    outside = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    label = path.relative_to(PACKAGE) if path.is_relative_to(PACKAGE) else path.name
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in outside:
            continue
        if isinstance(node, ast.Attribute) and private(node.attr) and node.attr not in mine:
            found.append(f"{label}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found += [f"{label}:{node.lineno}: import {a.name}" for a in node.names if private(a.name)]
    return found


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_no_module_touches_another_modules_private_names(path: Path) -> None:
    assert foreign_private_uses(path) == []


def test_the_scan_sees_a_foreign_private_use(tmp_path: Path) -> None:
    # The rule itself, on the shapes it must catch and the ones it must let pass.
    module = tmp_path / "m.py"
    module.write_text(
        "from .other import _helper\n"
        "class A:\n"
        "    __slots__ = ('_mine',)\n"
        "    def __init__(self, request):\n"
        "        self._mine = request._conn\n"
        "        self.__dict__\n"
    )
    assert sorted(foreign_private_uses(module)) == ["m.py:1: import _helper", "m.py:5: ._conn"]
