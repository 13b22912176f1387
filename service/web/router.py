"""Route declarations -> a frozen table -> match. No HTTP and no YAML in here.

Theory of operation
-------------------
Paths are patterns (patterns.py: literals and ``{placeholders}``). ``freeze()``
compiles the table once:

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

Around the table, aiohttp's view of it (resources.py): each path is a *resource*
with its routes and maybe a name (``router["name"].url_for(...)``); a static
directory (staticfiles.py) and a mounted sub-application (subapps.py) are resources
too. They are bookkeeping for building and listing: matching never looks at them.

A sub-application's routes are compiled into its root's table, already under
their prefix (``add_prefix``) and each with the sub-app's chain pre-bound
(``freeze(mounted=...)``), so a request to one costs what any other does. A route
declared with an ``expect_handler`` gets that step (expect.py) composed around
its chain at freeze; a route without one is compiled exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass, field, replace
from os import PathLike
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Unpack

from ..errors import RouteError
from .expect import expect_first
from .patterns import ANY_METHOD, METHODS, Pattern, Placeholder, check_method, parse_pattern
from .resources import URL, AbstractResource, Resource, make_resource
from .routedef import AbstractRouteDef, ExpectHandler, Handler, RouteOptions
from .table import Table, compile_table, compiled, implied

if TYPE_CHECKING:
    from .staticfiles import StaticResource

__all__ = [
    "ANY_METHOD",
    "METHODS",
    "Placeholder",
    "Route",
    "Router",
    "check_method",
    "parse_pattern",
]

_ROUTE_NAME = re.compile(r"[\w.:-]+\Z")
_FROZEN = "cannot add routes to a frozen router (the app has started)"


@dataclass(frozen=True, slots=True, eq=False)  # (identity: a route is one entry of one table; PERF: hashing)
class Route:
    method: str
    pattern: Pattern
    handler: Handler
    name: str | None = None
    origin: str | None = None
    expect_handler: ExpectHandler | None = None
    # The resource (its path and name) the route belongs to; None for a bare Route.
    resource: Resource | None = field(default=None, compare=False, repr=False)

    @property
    def path(self) -> str:
        return self.pattern.path

    def describe(self) -> str:
        where = f" (declared at {self.origin})" if self.origin else ""
        return f"{self.method} {self.path}{where}"

    def url_for(self, **parts: Any) -> URL:
        """Its resource's ``url_for`` (aiohttp's ``route.url_for``)."""
        if self.resource is None:
            raise RuntimeError(f"{self.describe()} belongs to no resource")
        return self.resource.url_for(**parts)


Chain = tuple[Route, Handler]  # a route and its handler inside its app's middlewares


class Router:
    """Holds route declarations; ``freeze()`` compiles them; ``resolve()`` matches."""

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._by_shape: dict[tuple[str, tuple[str, ...]], Route] = {}
        self._resources: list[AbstractResource] = []  # registration order, as resources() lists them
        self._by_path: dict[str, Resource] = {}  # one resource per path pattern
        self._names: dict[str, AbstractResource] = {}
        self._sealed: str | None = None  # why nothing more may be added (a mounted sub-app's)
        self._chains: list[Chain] = []
        self._table: Table | None = None

    # -- declaring --------------------------------------------------------------
    def add_routes(self, routes: Iterable[AbstractRouteDef]) -> list[Route]:
        """Add every declaration (a ``RouteTableDef``, or a list of ``web.get(...)``, ``web.static(...)``)."""
        return [route for declared in routes for route in declared.register(self)]

    def add_route(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        name: str | None = None,
        origin: str | None = None,
        expect_handler: ExpectHandler | None = None,
    ) -> Route:
        self._check_open()
        method = check_method(method)
        if not callable(handler):
            raise RouteError(f"handler for {method} {path} is not callable: {handler!r}")
        if expect_handler is not None and not callable(expect_handler):
            raise RouteError(f"expect_handler for {method} {path} is not callable: {expect_handler!r}")
        pattern = parse_pattern(path)
        self._check_name(name, pattern.path)
        key = (method, pattern.shape)
        other = self._by_shape.get(key)
        if other is not None:
            what = "duplicate route" if other.path == path else "ambiguous route"
            raise RouteError(f"{what} {method} {path}: same as {other.describe()}")
        resource = self._resource_for(pattern, name)
        route = Route(method, pattern, handler, name, origin, expect_handler, resource)
        self._by_shape[key] = route
        self._routes.append(route)
        return route

    def add_get(self, path: str, handler: Handler, **options: Unpack[RouteOptions]) -> Route:
        return self.add_route("GET", path, handler, **options)

    def add_head(self, path: str, handler: Handler, **options: Unpack[RouteOptions]) -> Route:
        return self.add_route("HEAD", path, handler, **options)

    def add_post(self, path: str, handler: Handler, **options: Unpack[RouteOptions]) -> Route:
        return self.add_route("POST", path, handler, **options)

    def add_put(self, path: str, handler: Handler, **options: Unpack[RouteOptions]) -> Route:
        return self.add_route("PUT", path, handler, **options)

    def add_patch(self, path: str, handler: Handler, **options: Unpack[RouteOptions]) -> Route:
        return self.add_route("PATCH", path, handler, **options)

    def add_delete(self, path: str, handler: Handler, **options: Unpack[RouteOptions]) -> Route:
        return self.add_route("DELETE", path, handler, **options)

    def add_options(self, path: str, handler: Handler, **options: Unpack[RouteOptions]) -> Route:
        return self.add_route("OPTIONS", path, handler, **options)

    def add_view(self, path: str, handler: Any, **options: Unpack[RouteOptions]) -> Route:
        """A ``web.View`` class at ``path``: registered for every method (it answers 405 itself)."""
        return self.add_route(ANY_METHOD, path, handler, **options)

    def add_static(
        self,
        prefix: str,
        path: str | PathLike[str],
        *,
        name: str | None = None,
        expect_handler: ExpectHandler | None = None,
        chunk_size: int = 256 * 1024,
        show_index: bool = False,
        follow_symlinks: bool = False,
        append_version: bool = False,
    ) -> StaticResource:
        """Serve the files under directory ``path`` at ``prefix`` (staticfiles.py)."""
        # (imported here: only an app that serves files loads file serving)
        from .staticfiles import StaticResource

        self._check_open()
        resource = StaticResource(
            self,
            prefix,
            path,
            name=name,
            chunk_size=chunk_size,
            show_index=show_index,
            follow_symlinks=follow_symlinks,
            append_version=append_version,
        )
        self.register_resource(resource)
        resource.add_route("GET", resource.handle, expect_handler=expect_handler)  # (HEAD by GET)
        return resource

    def add_resource(self, path: str, *, name: str | None = None) -> Resource:
        """The resource for ``path`` (made if new), to add routes to: ``.add_route(method, handler)``."""
        self._check_open()
        pattern = parse_pattern(path)
        self._check_name(name, pattern.path)
        return self._resource_for(pattern, name)

    def register_resource(self, resource: AbstractResource) -> None:
        """Add ``resource`` (a static directory, a sub-app) to those this router lists."""
        self._check_open()
        path = resource.pattern.path if isinstance(resource, Resource) else None
        if path in self._by_path:
            raise RouteError(f"a resource for {path} exists already")
        self._check_name(resource.name, path)
        if resource.name is not None:
            self._names[resource.name] = resource
        if isinstance(resource, Resource):
            self._by_path[resource.pattern.path] = resource
        self._resources.append(resource)

    def _resource_for(self, pattern: Pattern, name: str | None) -> Resource:
        resource = self._by_path.get(pattern.path)
        if resource is None:
            resource = make_resource(self, pattern, name)
            self.register_resource(resource)
        elif name is not None:
            self._names.setdefault(name, resource)  # (another name for it: both find it)
            if resource.name is None:
                resource.name = name
        return resource

    def _check_name(self, name: str | None, path: str | None) -> None:
        """``name`` may be used for ``path``: well-formed, and no other path's name."""
        if name is None:
            return
        if not _ROUTE_NAME.match(name):
            raise RouteError(f"route name {name!r} may only hold letters, digits, '_', '.', ':', '-'")
        other = self._names.get(name)
        if other is None or (isinstance(other, Resource) and other.pattern.path == path):
            return  # free, or this very path's already: a second method's route may share it
        raise RouteError(f"route name {name!r} already used by {other.describe()}")

    def _check_open(self) -> None:
        if self._table is not None:
            raise RuntimeError(_FROZEN)
        if self._sealed is not None:
            raise RuntimeError(self._sealed)

    def add_prefix(self, prefix: str) -> None:
        """Move every route and resource under ``prefix`` (add_subapp does, to a sub-app's;
        a sealed router may still move: a nested sub-app's moves with its parent)."""
        if not prefix:
            return  # (a domain's sub-app, served at the root)
        if self._table is not None:
            raise RuntimeError(_FROZEN)
        self._routes = [replace(r, pattern=r.pattern.with_prefix(prefix)) for r in self._routes]
        self._by_shape = {(r.method, r.pattern.shape): r for r in self._routes}
        for resource in self._resources:
            resource.add_prefix(prefix)
        self._by_path = {r.pattern.path: r for r in self._resources if isinstance(r, Resource)}

    def seal(self, reason: str) -> None:
        """No more routes or resources: adding one raises ``RuntimeError(reason)``."""
        self._sealed = reason

    # -- listing ------------------------------------------------------------------
    def routes(self) -> tuple[Route, ...]:
        """Every route: this router's in declaration order, then its sub-apps'."""
        mounted = [route for r in self._resources if not isinstance(r, Resource) for route in r]
        return (*self._routes, *mounted)

    def resources(self) -> tuple[AbstractResource, ...]:
        return tuple(self._resources)

    def named_resources(self) -> Mapping[str, AbstractResource]:
        return MappingProxyType(self._names)

    def __getitem__(self, name: str) -> AbstractResource:
        """The resource named ``name`` (aiohttp's ``router[name]``)."""
        resource = self._names.get(name)
        if resource is None:
            raise KeyError(f"no route named {name!r}")
        return resource

    # aiohttp's UrlDispatcher is a mapping of names to resources; these read it so.
    # (Iterating the router and len() go over its routes, as they always have here.)
    def get(self, name: str, default: AbstractResource | None = None) -> AbstractResource | None:
        return self._names.get(name, default)

    def keys(self) -> KeysView[str]:
        return self._names.keys()

    def values(self) -> ValuesView[AbstractResource]:
        return self._names.values()

    def items(self) -> ItemsView[str, AbstractResource]:
        return self._names.items()

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __len__(self) -> int:
        return len(self._routes)

    @property
    def frozen(self) -> bool:
        return self._table is not None

    # -- compiling --------------------------------------------------------------
    def freeze(self, wrap: Callable[[Handler], Handler] | None = None, mounted: Iterable[Chain] = ()) -> None:
        """Compile the table. ``wrap`` turns each handler into what ``resolve`` returns.

        ``mounted`` are sub-apps' routes (under their prefix) with their own chains,
        compiled here like this router's own, ``wrap`` around them too.
        """
        if self._table is not None:
            return
        entries = [(route, route.handler) for route in self._routes]
        shapes = dict(self._by_shape)
        for route, inner in mounted:
            other = shapes.setdefault((route.method, route.pattern.shape), route)
            if other is not route:
                raise RouteError(f"{route.describe()} of a sub-application: same as {other.describe()}")
            entries.append((route, inner))
        self._chains = [(route, wrap(inner) if wrap else inner) for route, inner in entries]
        calls = {
            id(route): call if route.expect_handler is None else expect_first(call, route.expect_handler)
            for route, call in self._chains
        }
        self._table = compile_table([route for route, _ in entries], calls)

    def chains(self) -> list[Chain]:
        """Once frozen: each route (its sub-apps' too) with its handler inside this app's
        middlewares -- without the expect step, which goes outermost where it is served."""
        return list(self._chains)

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
                if compiled(regex).fullmatch(path):
                    allowed |= methods
        return implied(allowed)

    # -- reverse ------------------------------------------------------------------
    def url_for(self, name: str, /, **params: Any) -> URL:
        """The path of the resource named ``name`` with ``params`` filled in and quoted."""
        return self[name].url_for(**params)

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)
