"""Dotted names -> the async callables they name, with precise import errors.

``handlers.users.get_user`` and ``handlers.users:get_user`` both name attribute
``get_user`` of module ``handlers.users``. What can go wrong is told apart, as
users need different fixes for each:

* the module does not exist ("module not found", with a close match if any);
* the module exists but raised while importing (its own error, file and line);
* the module has no such attribute ("did you mean");
* the object is not an ``async def`` or does not take the arguments it will get.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import pkgutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

__all__ = ["ResolveError", "check_async_callable", "import_dotted", "split_dotted"]


class ResolveError(Exception):
    """A dotted name cannot be resolved; the message says why, for a user."""


def split_dotted(dotted: str) -> tuple[str, str]:
    """``a.b.c`` -> (``a.b``, ``c``); ``a.b:c.d`` -> (``a.b``, ``c.d``)."""
    if ":" in dotted:
        module, _, attr = dotted.partition(":")
    else:
        module, _, attr = dotted.rpartition(".")
    if not module or not attr:
        raise ResolveError(f"{dotted!r} names no module: write module.function, e.g. handlers.hello.hello")
    return module, attr


def _where(exc: BaseException) -> str:
    """Where an import-time error happened: its own file and line."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib._bootstrap" not in f.filename]
    if frames:
        return f"{frames[-1].filename}:{frames[-1].lineno}"
    return "?"


def _missing_module(module: str, exc: ModuleNotFoundError) -> bool:
    """True if ``module`` itself (or a package on its way) is what was not found."""
    return exc.name is not None and (module == exc.name or module.startswith(exc.name + "."))


def _siblings(module: str) -> list[str]:
    parent, _, _ = module.rpartition(".")
    try:
        if parent:
            package = importlib.import_module(parent)
            paths = list(getattr(package, "__path__", []))
            return [f"{parent}.{m.name}" for m in pkgutil.iter_modules(paths)]
        return [m.name for m in pkgutil.iter_modules(sys.path[:1])]
    except Exception:
        return []


def import_module(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if _missing_module(module, exc):
            # Compare last components: whole names share their package prefix, so any
            # sibling would look close ('handlers.zzz' -> 'handlers.db').
            leaf = module.rpartition(".")[2]
            by_leaf = {s.rpartition(".")[2]: s for s in _siblings(module)}
            close = difflib.get_close_matches(leaf, list(by_leaf), n=1)
            hint = f" (did you mean {by_leaf[close[0]]!r}?)" if close else ""
            raise ResolveError(f"module not found: {module!r}{hint}") from None
        raise ResolveError(
            f"importing {module!r} failed: {type(exc).__name__}: {exc} (at {_where(exc)})"
        ) from None
    except SyntaxError as exc:
        raise ResolveError(
            f"importing {module!r} failed: SyntaxError: {exc.msg} (at {_where(exc)})"
        ) from None
    except Exception as exc:
        raise ResolveError(
            f"importing {module!r} failed: {type(exc).__name__}: {exc} (at {_where(exc)})"
        ) from None


def import_dotted(dotted: str) -> Any:
    """The object a dotted name points at, or ``ResolveError``."""
    module_name, attr = split_dotted(dotted)
    obj = import_module(module_name)
    for i, part in enumerate(attr.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            owner = module_name if i == 0 else f"{module_name}:{'.'.join(attr.split('.')[:i])}"
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ResolveError(f"module {owner!r} has no attribute {part!r}{hint}") from None
    return obj


def _is_async(obj: Any) -> bool:
    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(obj, "__call__", None)  # noqa: B004 - an instance with async __call__
    return call is not None and not inspect.isfunction(obj) and inspect.iscoroutinefunction(call)


def check_async_callable(obj: Any, dotted: str, args: tuple[str, ...]) -> Callable[..., Any]:
    """``obj`` must be an ``async def`` callable accepting ``args`` positionally."""
    if not callable(obj):
        raise ResolveError(f"{dotted} is not a function but a value of type {type(obj).__name__!r}")
    if not _is_async(obj):
        raise ResolveError(f"{dotted} is not an async function: define it with 'async def'")
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return cast(Callable[..., Any], obj)  # builtins and the like: trust them
    try:
        signature.bind(*args)
    except TypeError:
        wanted = ", ".join(args)
        short = dotted.replace(":", ".").rpartition(".")[2]
        raise ResolveError(
            f"{dotted}{signature} cannot be called as {short}({wanted}):"
            f" it must take {len(args)} positional argument{'s' if len(args) > 1 else ''} ({wanted})"
        ) from None
    return cast(Callable[..., Any], obj)


def add_to_path(directory: Path) -> None:
    """Make modules next to the routes file importable (``handlers.*``)."""
    entry = str(directory)
    if entry not in sys.path:
        sys.path.insert(0, entry)
