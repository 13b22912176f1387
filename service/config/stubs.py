"""``check --stubs``: a stub for every route whose handler does not exist yet.

Writing routes.yaml first is a way to design a service: ``check --stubs`` then
writes, for each route whose handler module or function is missing, an
``async def`` that answers 501 Not Implemented, so the service runs (and
``routes``, ``openapi`` and the tests work) while the handlers are written one by
one. It never overwrites code: a missing module is created (with the packages on
its way), a missing function is appended to its module, and anything that exists
is left as it is. Class-based views, middlewares, hooks and models are not
stubbed: what they must be cannot be guessed from the file.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from .loader import Spec
from .resolve import ResolveError, add_to_path, split_dotted

__all__ = ["write_stubs"]

MODULE_HEAD = (
    '"""Handlers of routes.yaml; each stub answers 501 until it is written."""\n\nfrom service import web\n'
)
STUB = '''

async def {name}(request: web.Request) -> web.StreamResponse:
    """{method} {path} (a stub written by `service check --stubs`)."""
    raise web.HTTPNotImplemented(text="501: {method} {path} is not written yet ({dotted})")
'''


def _defined(source: str) -> set[str]:
    """The names a module's source defines or imports at its top level."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()  # (check reports it; a stub appended to broken code would not help)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def write_stubs(spec: Spec) -> list[str]:
    """Write the missing handlers of ``spec``'s routes; one line per change, for the user."""
    written: list[str] = []
    add_to_path(spec.base_dir)  # where the modules are looked for, as check looks
    for route in spec.routes:
        if route.view:
            continue
        try:
            module, name = split_dotted(route.handler)
        except ResolveError:
            continue  # (check reports it)
        if "." in name or not name.isidentifier():
            continue
        parts = module.split(".")
        if not all(part.isidentifier() for part in parts):
            continue
        file = spec.base_dir.joinpath(*parts).with_suffix(".py")
        if file.parent.joinpath(parts[-1]).is_dir() or _elsewhere(module, file):
            continue  # a package of that name, or a module found elsewhere: not ours to write
        written += _packages(spec.base_dir, parts[:-1])
        source = file.read_text(encoding="utf-8") if file.exists() else None
        if source is not None and name in _defined(source):
            continue
        stub = STUB.format(name=name, method=route.method, path=route.path, dotted=route.handler)
        if source is None:
            file.write_text(MODULE_HEAD + stub, encoding="utf-8")
            written.append(f"created {_shown(file, spec)} with {name}")
        else:
            head = "" if "from service import web" in source else "\nfrom service import web\n"
            with file.open("a", encoding="utf-8") as out:
                out.write(("" if source.endswith("\n") or not source else "\n") + head + stub)
            written.append(f"added {name} to {_shown(file, spec)}")
    return written


def _elsewhere(module: str, file: Path) -> bool:
    """``module`` is importable from somewhere else than ``file`` (a stub there would shadow it)."""
    if file.exists():
        return False
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):  # a parent package that is missing or broken: not found
        return False
    return found is not None and found.origin is not None and Path(found.origin) != file


def _packages(base: Path, parts: list[str]) -> list[str]:
    """The package directories (with an ``__init__.py`` each) on the way to a module."""
    made: list[str] = []
    directory = base
    for part in parts:
        directory = directory / part
        init = directory / "__init__.py"
        if not directory.exists():
            directory.mkdir()
        if not init.exists():
            init.write_text("", encoding="utf-8")
            made.append(f"created {init.relative_to(base)}")
    return made


def _shown(file: Path, spec: Spec) -> str:
    return str(file.relative_to(spec.base_dir))
