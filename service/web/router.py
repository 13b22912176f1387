"""Route declarations -> a frozen table -> match. No HTTP and no YAML in here.

Theory of operation
-------------------
A path pattern is literal text with placeholders: ``{name}`` (one segment),
``{name:regex}`` (aiohttp's syntax) and typed ``{name:int|float|uuid|path|str}``.
A spec that is a bare word names a converter; anything else is a regex (write
``{x:(?:word)}`` to match a literal word).

``freeze()`` compiles the table once:

* Static patterns go in a dict ``path -> method -> entry``: one lookup however
  many routes there are.
* Dynamic patterns are grouped, per method, by their *literal prefix* -- the text
  before the first placeholder, cut after its last ``/`` (``/users/{id}`` ->
  ``/users/``). Each group is one compiled alternation (Bottle's trick); an empty
  marker group at the end of each alternative tells which one matched. Matching
  walks the request path's own ``/`` prefixes from the longest down, so it costs
  one dict lookup per path segment plus one regex per group that exists -- it
  does not grow with the number of routes.

Precedence: static before dynamic; among dynamic routes, the longer literal
prefix first, then registration order. Two routes for one method whose patterns
have the same shape (same literals, same placeholder regexes) are ambiguous and
rejected when added, naming both.

``HEAD`` falls back to ``GET``; method ``*`` matches any method. A miss computes
the set of methods that do match the path (for 405 and ``Allow``) on the slow
path only.
"""

from __future__ import annotations

import difflib
import functools
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..errors import RouteError
from .routedef import Handler

__all__ = ["METHODS", "Route", "Router", "check_method", "parse_pattern"]

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ANY_METHOD = "*"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ROUTE_NAME = re.compile(r"[\w.:-]+\Z")
_DEFAULT_REGEX = r"[^{}/]+"


def check_method(method: str) -> str:
    """``method`` as a route's key: upper-cased, one of ``METHODS`` or ``*``; else ``RouteError``.

    The message names the method as written and the closest known one, if any.
    """
    upper = method.upper() if isinstance(method, str) else method
    if upper in METHODS or upper == ANY_METHOD:
        return upper
    close = difflib.get_close_matches(upper, METHODS, n=1) if isinstance(upper, str) else []
    hint = f"did you mean {close[0]}?" if close else f"use one of {', '.join(METHODS)} or '*'"
    raise RouteError(f"unknown method {method!r} ({hint})")


def _to_uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)


# name -> (regex, converter); a None converter keeps the text as it is.
CONVERTERS: dict[str, tuple[str, Callable[[str], Any] | None]] = {
    "str": (r"[^/]+", None),
    "int": (r"[0-9]+", int),
    "float": (r"[0-9]+(?:\.[0-9]+)?", float),
    "uuid": (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", _to_uuid),
    "path": (r".*", None),
}


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str
    regex: str
    convert: Callable[[str], Any] | None
    spec: str | None  # as written after the colon, for messages and listings


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed path pattern."""

    path: str
    parts: tuple[str | Placeholder, ...]

    @property
    def is_static(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    @property
    def shape(self) -> tuple[str, ...]:
        """What the pattern matches, independent of placeholder names."""
        return tuple(p if isinstance(p, str) else "{" + p.regex + "}" for p in self.parts)

    @property
    def prefix(self) -> str:
        """The literal text before the first placeholder, cut after its last '/'."""
        head = self.parts[0] if isinstance(self.parts[0], str) else ""
        return head[: head.rfind("/") + 1]

    def regex(self, group_prefix: str = "") -> str:
        return "".join(
            re.escape(p) if isinstance(p, str) else f"(?P<{group_prefix}{p.name}>{p.regex})"
            for p in self.parts
        )


def parse_pattern(path: str) -> Pattern:
    """Parse ``path`` into literals and placeholders, or raise ``RouteError``."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise RouteError(f"path must start with '/': {path!r}")
    parts: list[str | Placeholder] = []
    names: set[str] = set()
    literal: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "}":
            raise RouteError(f"unbalanced '}}' at offset {i} in {path!r}")
        if ch != "{":
            literal.append(ch)
            i += 1
            continue
        end, depth = i + 1, 1
        while end < len(path) and depth:
            depth += {"{": 1, "}": -1}.get(path[end], 0)
            end += 1
        if depth:
            raise RouteError(f"unclosed '{{' at offset {i} in {path!r}")
        placeholder = _parse_placeholder(path[i + 1 : end - 1], path)
        if placeholder.name in names:
            raise RouteError(f"placeholder {{{placeholder.name}}} appears twice in {path!r}")
        names.add(placeholder.name)
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(placeholder)
        i = end
    if literal:
        parts.append("".join(literal))
    return Pattern(path, tuple(parts))


def _parse_placeholder(body: str, path: str) -> Placeholder:
    name, colon, spec = body.partition(":")
    if not _IDENT.match(name):
        raise RouteError(f"placeholder name {name!r} in {path!r} is not an identifier")
    if not colon:
        return Placeholder(name, _DEFAULT_REGEX, None, None)
    if _IDENT.match(spec):
        if spec not in CONVERTERS:
            known = ", ".join(CONVERTERS)
            raise RouteError(f"unknown converter {spec!r} in {{{body}}} (known: {known})")
        regex, convert = CONVERTERS[spec]
        return Placeholder(name, regex, convert, spec)
    if not spec:
        raise RouteError(f"empty regex in {{{body}}} in {path!r}")
    try:
        compiled = re.compile(f"(?:{spec})")
    except re.error as exc:
        raise RouteError(f"invalid regex {spec!r} in {{{name}}}: {exc}") from None
    if compiled.groupindex:
        raise RouteError(f"regex {spec!r} in {{{name}}} may not contain named groups")
    return Placeholder(name, spec, None, spec)


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: Pattern
    handler: Handler
    name: str | None = None
    origin: str | None = None

    @property
    def path(self) -> str:
        return self.pattern.path

    def describe(self) -> str:
        where = f" (declared at {self.origin})" if self.origin else ""
        return f"{self.method} {self.path}{where}"


# A matched route, the callable to run (the handler wrapped in middlewares),
# and per placeholder: (regex group index, name, converter).
Extractor = tuple[int, str, Callable[[str], Any] | None]
_Entry = tuple[Route, Handler]


@dataclass(slots=True)
class _Group:
    """All dynamic routes of one method sharing one literal prefix."""

    regex: re.Pattern[str]
    by_marker: dict[int, tuple[Route, Handler, tuple[Extractor, ...]]]


@dataclass(slots=True)
class _Table:
    static: dict[str, dict[str, _Entry]] = field(default_factory=dict)
    dynamic: dict[str, dict[str, _Group]] = field(default_factory=dict)
    # prefix -> [(full pattern, methods)], for 405 on the slow path; each pattern is
    # compiled when first needed (a table of 1,000 routes need not compile 1,000 at start).
    resources: dict[str, list[tuple[str, frozenset[str]]]] = field(default_factory=dict)
    every_method: frozenset[str] = frozenset()  # of the whole table, for OPTIONS *


def _implied(methods: set[str]) -> frozenset[str]:
    """``methods`` with what they imply: every method for ``*``; HEAD by GET; OPTIONS."""
    if not methods:
        return frozenset()
    allowed = set(METHODS) if ANY_METHOD in methods else set(methods)
    if "GET" in allowed:
        allowed.add("HEAD")
    allowed.add("OPTIONS")
    return frozenset(allowed)


class Router:
    """Holds route declarations; ``freeze()`` compiles them; ``resolve()`` matches."""

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._by_shape: dict[tuple[str, tuple[str, ...]], Route] = {}
        self._names: dict[str, Route] = {}
        self._table: _Table | None = None

    # -- declaring --------------------------------------------------------------
    def add_route(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        name: str | None = None,
        origin: str | None = None,
    ) -> Route:
        if self._table is not None:
            raise RuntimeError("cannot add routes to a frozen router (the app has started)")
        method = check_method(method)
        if not callable(handler):
            raise RouteError(f"handler for {method} {path} is not callable: {handler!r}")
        pattern = parse_pattern(path)
        if name is not None and not _ROUTE_NAME.match(name):
            raise RouteError(f"route name {name!r} may only hold letters, digits, '_', '.', ':', '-'")
        route = Route(method, pattern, handler, name, origin)
        key = (method, pattern.shape)
        other = self._by_shape.get(key)
        if other is not None:
            what = "duplicate route" if other.path == path else "ambiguous route"
            raise RouteError(f"{what} {method} {path}: same as {other.describe()}")
        if name is not None and name in self._names:
            raise RouteError(f"route name {name!r} already used by {self._names[name].describe()}")
        self._by_shape[key] = route
        if name is not None:
            self._names[name] = route
        self._routes.append(route)
        return route

    def add_get(self, path: str, handler: Handler, *, name: str | None = None) -> Route:
        return self.add_route("GET", path, handler, name=name)

    def add_head(self, path: str, handler: Handler, *, name: str | None = None) -> Route:
        return self.add_route("HEAD", path, handler, name=name)

    def add_post(self, path: str, handler: Handler, *, name: str | None = None) -> Route:
        return self.add_route("POST", path, handler, name=name)

    def add_put(self, path: str, handler: Handler, *, name: str | None = None) -> Route:
        return self.add_route("PUT", path, handler, name=name)

    def add_patch(self, path: str, handler: Handler, *, name: str | None = None) -> Route:
        return self.add_route("PATCH", path, handler, name=name)

    def add_delete(self, path: str, handler: Handler, *, name: str | None = None) -> Route:
        return self.add_route("DELETE", path, handler, name=name)

    def add_options(self, path: str, handler: Handler, *, name: str | None = None) -> Route:
        return self.add_route("OPTIONS", path, handler, name=name)

    def add_view(self, path: str, handler: Any, *, name: str | None = None) -> Route:
        """A ``web.View`` class at ``path``: registered for every method (it answers 405 itself)."""
        return self.add_route(ANY_METHOD, path, handler, name=name)

    def routes(self) -> tuple[Route, ...]:
        return tuple(self._routes)

    def __len__(self) -> int:
        return len(self._routes)

    @property
    def frozen(self) -> bool:
        return self._table is not None

    # -- compiling --------------------------------------------------------------
    def freeze(self, wrap: Callable[[Handler], Handler] | None = None) -> None:
        """Compile the table. ``wrap`` turns each handler into what ``resolve`` returns."""
        if self._table is not None:
            return
        table = _Table()
        calls = {id(r): (wrap(r.handler) if wrap else r.handler) for r in self._routes}
        built: dict[tuple[int, ...], dict[str, _Group]] = {}
        for method in METHODS:
            candidates = self._candidates(method)
            static = [r for r in candidates if r.pattern.is_static]
            for route in static:
                table.static.setdefault(route.path, {}).setdefault(method, (route, calls[id(route)]))
            dynamic = [r for r in candidates if not r.pattern.is_static]
            # The same routes for several methods (HEAD's are GET's, '*' routes are every
            # method's) share their compiled groups.
            key = tuple(id(r) for r in dynamic)
            if key not in built:
                built[key] = _build_groups(dynamic, calls)
            table.dynamic[method] = built[key]
        shapes: dict[tuple[str, ...], tuple[Pattern, set[str]]] = {}
        for route in self._routes:
            if not route.pattern.is_static:
                shapes.setdefault(route.pattern.shape, (route.pattern, set()))[1].add(route.method)
        for pattern, methods in shapes.values():
            table.resources.setdefault(pattern.prefix, []).append((pattern.regex(), frozenset(methods)))
        table.every_method = _implied({route.method for route in self._routes}) | {"OPTIONS"}
        self._table = table

    def _candidates(self, method: str) -> list[Route]:
        """Routes answering ``method``, most specific first: own, GET for HEAD, then '*'."""
        own = [r for r in self._routes if r.method == method]
        seen = {r.pattern.shape for r in own}
        fallbacks = ["GET", ANY_METHOD] if method == "HEAD" else [ANY_METHOD]
        for fallback in fallbacks:
            extra = [r for r in self._routes if r.method == fallback and r.pattern.shape not in seen]
            seen.update(r.pattern.shape for r in extra)
            own.extend(extra)
        return own

    # -- matching ---------------------------------------------------------------
    def resolve(self, method: str, path: str) -> tuple[Route | None, Handler | None, Any]:
        """``(route, call, params)`` on a match, else ``(None, None, allowed_methods)``.

        ``params`` is None for a static route (PERF: no dict; the request has one).

        ``allowed_methods`` is empty when nothing matches the path (404), and the
        methods that would match otherwise (405, or the answer to OPTIONS).
        """
        table = self._table
        if table is None:
            raise RuntimeError("freeze() the router before resolving")
        by_method = table.static.get(path)
        if by_method is not None:
            entry = by_method.get(method)
            if entry is not None:
                return entry[0], entry[1], None
        groups = table.dynamic.get(method)
        if groups:
            end = len(path)
            while end > 0:
                end = path.rfind("/", 0, end)
                if end < 0:
                    break
                group = groups.get(path[: end + 1])
                if group is not None:
                    m = group.regex.fullmatch(path)
                    if m is not None:
                        route, call, extractors = group.by_marker[m.lastindex]  # type: ignore[index]
                        params: dict[str, Any] = {}
                        try:
                            for index, name, convert in extractors:
                                value = m.group(index)
                                params[name] = value if convert is None else convert(value)
                        except ValueError:  # e.g. an int too long to convert
                            return None, None, frozenset()
                        return route, call, params
        return None, None, self.allowed_methods(path)

    def allowed_methods(self, path: str) -> frozenset[str]:
        """Every method some route answers for ``path`` (with HEAD and OPTIONS implied).

        The path ``*`` (of ``OPTIONS *``) stands for the whole table.
        """
        table = self._table
        if table is None:
            raise RuntimeError("freeze() the router before resolving")
        if path == "*":
            return table.every_method
        allowed = set(table.static.get(path, ()))
        end = len(path)
        while end > 0:
            end = path.rfind("/", 0, end)
            if end < 0:
                break
            for regex, methods in table.resources.get(path[: end + 1], ()):
                if _compiled(regex).fullmatch(path):
                    allowed |= methods
        return _implied(allowed)

    # -- reverse ------------------------------------------------------------------
    def url_for(self, name: str, /, **params: Any) -> str:
        """The path of route ``name`` with ``params`` filled in and quoted."""
        route = self._names.get(name)
        if route is None:
            raise KeyError(f"no route named {name!r}")
        out: list[str] = []
        wanted = {p.name for p in route.pattern.parts if isinstance(p, Placeholder)}
        if set(params) != wanted:
            raise ValueError(f"route {name!r} takes parameters {sorted(wanted)}, got {sorted(params)}")
        for part in route.pattern.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            text = str(params[part.name])
            if not re.fullmatch(part.regex, text):
                raise ValueError(f"{part.name}={text!r} does not match {part.regex!r}")
            out.append(quote(text, safe="/" if part.spec == "path" else ""))
        return "".join(out)

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)


@functools.lru_cache(maxsize=4096)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _build_groups(routes: list[Route], calls: dict[int, Handler]) -> dict[str, _Group]:
    by_prefix: dict[str, list[Route]] = {}
    for route in routes:
        by_prefix.setdefault(route.pattern.prefix, []).append(route)
    groups: dict[str, _Group] = {}
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
        groups[prefix] = _Group(regex, by_marker)
    return groups
