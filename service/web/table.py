"""The compiled route table: built once, at freeze, from the routes and their calls.

``compile_table`` sorts the routes the way ``Router.resolve`` walks them (the
theory is in router.py's docstring): per method, static paths in a dict, and
dynamic patterns grouped by literal prefix, each group one alternation whose
marker groups say which route matched. The same groups serve every method whose
routes are the same (HEAD's are GET's; ``*`` routes are every method's). For
405 and ``Allow``, each distinct shape keeps its regex text, compiled only when
a miss first needs it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .patterns import ANY_METHOD, METHODS, Pattern, Placeholder
from .routedef import Handler

if TYPE_CHECKING:
    from .router import Route

__all__ = ["Group", "Table", "compile_table", "compiled", "implied"]

# A matched route, the callable to run (the handler wrapped in middlewares),
# and per placeholder: (regex group index, name, converter).
Extractor = tuple[int, str, Callable[[str], Any] | None]
Entry = tuple["Route", Handler]


@dataclass(slots=True)
class Group:
    """All dynamic routes of one method sharing one literal prefix."""

    regex: re.Pattern[str]
    by_marker: dict[int, tuple[Route, Handler, tuple[Extractor, ...]]]


@dataclass(slots=True)
class Table:
    static: dict[str, dict[str, Entry]] = field(default_factory=dict)
    dynamic: dict[str, dict[str, Group]] = field(default_factory=dict)
    # prefix -> [(full pattern, methods)], for 405 on the slow path; each pattern is
    # compiled when first needed (a table of 1,000 routes need not compile 1,000 at start).
    resources: dict[str, list[tuple[str, frozenset[str]]]] = field(default_factory=dict)
    every_method: frozenset[str] = frozenset()  # of the whole table, for OPTIONS *


def implied(methods: set[str]) -> frozenset[str]:
    """``methods`` with what they imply: every method for ``*``; HEAD by GET; OPTIONS."""
    if not methods:
        return frozenset()
    allowed = set(METHODS) if ANY_METHOD in methods else set(methods)
    if "GET" in allowed:
        allowed.add("HEAD")
    allowed.add("OPTIONS")
    return frozenset(allowed)


def candidates(routes: list[Route], method: str) -> list[Route]:
    """Routes answering ``method``, most specific first: own, GET for HEAD, then '*'."""
    own = [r for r in routes if r.method == method]
    seen = {r.pattern.shape for r in own}
    fallbacks = ["GET", ANY_METHOD] if method == "HEAD" else [ANY_METHOD]
    for fallback in fallbacks:
        extra = [r for r in routes if r.method == fallback and r.pattern.shape not in seen]
        seen.update(r.pattern.shape for r in extra)
        own.extend(extra)
    return own


def compile_table(routes: list[Route], calls: dict[int, Handler]) -> Table:
    """The table of ``routes``; ``calls`` maps each (by id) to what ``resolve`` returns."""
    table = Table()
    built: dict[tuple[int, ...], dict[str, Group]] = {}
    for method in METHODS:
        chosen = candidates(routes, method)
        static = [r for r in chosen if r.pattern.is_static]
        for route in static:
            table.static.setdefault(route.path, {}).setdefault(method, (route, calls[id(route)]))
        dynamic = [r for r in chosen if not r.pattern.is_static]
        # The same routes for several methods (HEAD's are GET's, '*' routes are every
        # method's) share their compiled groups.
        key = tuple(id(r) for r in dynamic)
        if key not in built:
            built[key] = build_groups(dynamic, calls)
        table.dynamic[method] = built[key]
    shapes: dict[tuple[str, ...], tuple[Pattern, set[str]]] = {}
    for route in routes:
        if not route.pattern.is_static:
            shapes.setdefault(route.pattern.shape, (route.pattern, set()))[1].add(route.method)
    for pattern, methods in shapes.values():
        table.resources.setdefault(pattern.prefix, []).append((pattern.regex(), frozenset(methods)))
    table.every_method = implied({route.method for route in routes}) | {"OPTIONS"}
    return table


@functools.lru_cache(maxsize=4096)
def compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def build_groups(routes: list[Route], calls: dict[int, Handler]) -> dict[str, Group]:
    by_prefix: dict[str, list[Route]] = {}
    for route in routes:
        by_prefix.setdefault(route.pattern.prefix, []).append(route)
    groups: dict[str, Group] = {}
    for prefix, members in by_prefix.items():
        alternatives = [f"{r.pattern.regex(f'r{i}_')}(?P<m{i}>)" for i, r in enumerate(members)]
        regex = re.compile("|".join(alternatives))
        by_marker = {}
        for i, route in enumerate(members):
            extractors = tuple(
                (regex.groupindex[f"r{i}_{p.name}"], p.name, p.convert)
                for p in route.pattern.parts
                if isinstance(p, Placeholder)
            )
            by_marker[regex.groupindex[f"m{i}"]] = (route, calls[id(route)], extractors)
        groups[prefix] = Group(regex, by_marker)
    return groups
