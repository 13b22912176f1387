"""Sub-applications: aiohttp's ``add_subapp`` (by path prefix) and ``add_domain`` (by Host).

Theory of operation
-------------------
``app.add_subapp("/admin", admin)`` moves the sub-app's routes under the prefix
at once (``admin.router.add_prefix``: its ``url_for`` and listings say
``/admin/...`` from then on, nested sub-apps' too) and seals its router: a route
added to it later is an error, as in aiohttp. The parent's ``on_startup``,
``on_shutdown`` and ``on_cleanup`` lists get one hook each that runs the
sub-app's own (its cleanup contexts included), where aiohttp puts them.

Nothing is looked up per request. When the root app freezes, each sub-app
freezes first; its routes, each inside its own chain, come back from
``admin.router.chains()`` and are compiled into the root's table with, around
each, ``entering(admin)`` -- ``request.app`` is the sub-app while its middlewares
and handler run -- and the root's chain around that. The order is aiohttp's: the
parent's middlewares, then the sub-app's, then the handler; a route of a plain
app is compiled exactly as if there were no sub-apps.

A path under the prefix that no route matches gets the sub-app's own 404 or 405
(through its middlewares, ``SubAppMisses``), as in aiohttp; that is looked at on
the miss path only.

``add_domain("api.example.com", api)`` serves the sub-app's routes, unprefixed,
to requests whose ``Host`` matches: exactly (any port, unless the domain names
one) or as a mask (``*.example.com``). As in aiohttp 3.14, domains are tried
before the paths; an app with domains swaps its ``handle`` for a
``DomainDispatch`` when it freezes, so only such an app reads ``Host`` per request.

Differences from aiohttp: a route of a sub-app that has the same method and
shape as one of its parent's is an error at freeze (aiohttp serves the first
registered); a sub-app is mounted once; domains are served by the root
application only (a sub-app with ``add_domain`` sub-apps cannot itself be mounted).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .resources import URL, AbstractResource

if TYPE_CHECKING:
    from .app import AppKey, Application, Hook
    from .request import Request
    from .response import StreamResponse
    from .routedef import Handler
    from .router import Chain, Route

__all__ = [
    "ChainMapProxy",
    "Domain",
    "DomainDispatch",
    "MaskDomain",
    "MatchedSubAppResource",
    "PrefixedSubAppResource",
    "SubAppMisses",
    "check_prefix",
    "domain_rule",
    "entering",
    "lifecycle_hooks",
    "mounted_chains",
]

_T = TypeVar("_T")
Miss = Callable[["Request", frozenset[str]], "Handler"]


def check_prefix(prefix: object) -> str:
    """``prefix`` as a mount point: a path, no trailing slash, not the root, no braces."""
    if not isinstance(prefix, str):
        raise TypeError(f"a sub-application's prefix must be a str, not {prefix!r}")
    stripped = prefix.rstrip("/")
    if not stripped:
        raise ValueError("a sub-application's prefix cannot be empty (or '/')")
    if not stripped.startswith("/") or "{" in stripped or "}" in stripped:
        raise ValueError(
            f"a sub-application's prefix is a path starting with '/', without braces: {prefix!r}"
        )
    return stripped


def entering(app: Application, call: Handler) -> Handler:
    """``call`` with ``request.app`` set to ``app`` while it runs, the caller's after."""

    async def in_subapp(request: Request) -> StreamResponse:
        outer = request.app
        request.app = app
        try:
            return await call(request)
        finally:
            request.app = outer

    return in_subapp


def mounted_chains(apps: Iterable[Application]) -> list[Chain]:
    """The frozen sub-apps' routes, each inside its app's chain, entered: for the parent's table."""
    return [(route, entering(app, call)) for app in apps for route, call in app.router.chains()]


def lifecycle_hooks(subapp: Application) -> tuple[Hook, Hook, Hook]:
    """Hooks for the parent's on_startup, on_shutdown, on_cleanup, running the sub-app's own."""

    async def startup(parent: Application) -> None:
        await subapp.startup()

    async def shutdown(parent: Application) -> None:
        await subapp.shutdown()

    async def cleanup(parent: Application) -> None:
        await subapp.cleanup()

    return startup, shutdown, cleanup


class _SubAppResource(AbstractResource):
    """A mounted sub-app as its parent's router lists it."""

    def __init__(self, app: Application) -> None:
        super().__init__(None)
        self._app = app

    @property
    def app(self) -> Application:
        return self._app

    def url_for(self, **parts: Any) -> URL:
        raise RuntimeError(".url_for() is not supported by sub-application root")

    def __iter__(self) -> Iterator[Route]:
        return iter(self._app.router.routes())


class PrefixedSubAppResource(_SubAppResource):
    """``add_subapp``'s: the sub-app's routes under ``prefix``."""

    def __init__(self, prefix: str, app: Application) -> None:
        super().__init__(app)
        self._prefix = prefix
        app.router.add_prefix(prefix)

    @property
    def canonical(self) -> str:
        return self._prefix

    def covers(self, path: str) -> bool:
        """Whether ``path`` is the sub-app's (aiohttp's test: the prefix, or under it)."""
        return path.startswith(self._prefix) and (
            len(path) == len(self._prefix) or path[len(self._prefix)] == "/"
        )

    def add_prefix(self, prefix: str) -> None:
        self._prefix = prefix + self._prefix
        self._app.router.add_prefix(prefix)

    def get_info(self) -> dict[str, Any]:
        return {"app": self._app, "prefix": self._prefix}

    def __repr__(self) -> str:
        return f"<PrefixedSubAppResource {self._prefix} -> {self._app!r}>"


class Domain:
    """A ``Host`` to match exactly (lower-cased; with a port only if the domain has one)."""

    _label = re.compile(r"(?!-)[a-z\d-]{1,63}(?<!-)\Z")

    def __init__(self, domain: str) -> None:
        if not isinstance(domain, str):
            raise TypeError(f"a domain must be a str, not {domain!r}")
        domain = domain.rstrip(".").lower()
        if not domain:
            raise ValueError("a domain cannot be empty")
        if "://" in domain:
            raise ValueError(f"a domain has no scheme: {domain!r}")
        host, colon, port = domain.partition(":")
        if colon and (not port.isdigit() or not 0 < int(port) < 65536):
            raise ValueError(f"not a port in domain {domain!r}")
        if not all(self._label.match(label) for label in host.split(".")):
            raise ValueError(f"not a valid domain: {domain!r}")
        self._host = host
        self._port = "" if port == "80" else port  # (as aiohttp: 80 is the same as none)
        self._domain = f"{host}:{self._port}" if self._port else host

    @property
    def canonical(self) -> str:
        return self._domain

    def match_domain(self, host: str) -> bool:
        name, _, port = host.lower().partition(":")
        return name == self._host and (not self._port or port == self._port)

    def get_info(self) -> dict[str, Any]:
        return {"domain": self._domain}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._domain}>"


class MaskDomain(Domain):
    """A ``Host`` mask: ``*`` stands for any characters (``*.example.com``)."""

    _label = re.compile(r"(?!-)[a-z\d*-]{1,63}(?<!-)\Z")

    def __init__(self, domain: str) -> None:
        super().__init__(domain)
        self._mask = re.compile(".*".join(re.escape(part) for part in self._host.split("*")))

    def match_domain(self, host: str) -> bool:
        name, _, port = host.lower().partition(":")
        return self._mask.fullmatch(name) is not None and (not self._port or port == self._port)


def domain_rule(domain: str) -> Domain:
    """``add_domain``'s rule: a mask if ``domain`` has a ``*``, else the domain itself."""
    return MaskDomain(domain) if isinstance(domain, str) and "*" in domain else Domain(domain)


class MatchedSubAppResource(_SubAppResource):
    """``add_domain``'s: the sub-app's routes for requests whose ``Host`` matches ``rule``."""

    def __init__(self, rule: Domain, app: Application) -> None:
        super().__init__(app)
        self._rule = rule

    @property
    def rule(self) -> Domain:
        return self._rule

    @property
    def canonical(self) -> str:
        return self._rule.canonical

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("an application with add_domain() sub-apps cannot itself be mounted")

    def get_info(self) -> dict[str, Any]:
        return {"app": self._app, "rule": self._rule}

    def __repr__(self) -> str:
        return f"<MatchedSubAppResource {self._rule.canonical} -> {self._app!r}>"


class SubAppMisses:
    """An app's answer to a path no route matches, once it has sub-apps: under a
    sub-app's prefix, the sub-app's own 404 or 405 -- entered, in its chain; else the app's."""

    __slots__ = ("own", "wrap", "mounts")

    def __init__(
        self,
        own: Miss,
        wrap: Callable[[Handler], Handler],
        mounts: Sequence[tuple[PrefixedSubAppResource, Miss]],
    ) -> None:
        self.own = own
        self.wrap = wrap
        self.mounts = mounts

    def __call__(self, request: Request, allowed: frozenset[str]) -> Handler:
        path = request.path
        for resource, miss in self.mounts:
            if resource.covers(path):
                sub = resource.app
                return self.wrap(entering(sub, miss(request, sub.router.allowed_methods(path))))
        return self.own(request, allowed)


class DomainDispatch:
    """An app's ``handle`` once it has domain sub-apps: the first whose rule matches the
    ``Host`` answers (through its own view of the app); else the app's own ``handle``."""

    __slots__ = ("handle", "domains")

    def __init__(
        self,
        handle: Callable[[Request], Awaitable[StreamResponse]],
        domains: Sequence[tuple[Domain, Callable[[Request], Awaitable[StreamResponse]]]],
    ) -> None:
        self.handle = handle
        self.domains = domains

    async def __call__(self, request: Request) -> StreamResponse:
        host = request.headers.get("Host")
        if host:
            for rule, handle in self.domains:
                if rule.match_domain(host):
                    return await handle(request)
        return await self.handle(request)


class ChainMapProxy(Mapping[Any, Any]):
    """Read-only lookup through several mappings, first first (aiohttp's): ``request.config_dict``."""

    __slots__ = ("_maps",)

    def __init__(self, maps: Iterable[Mapping[Any, Any]]) -> None:
        self._maps = tuple(maps)

    @overload
    def __getitem__(self, key: AppKey[_T]) -> _T: ...
    @overload
    def __getitem__(self, key: str) -> Any: ...
    def __getitem__(self, key: Any) -> Any:
        for mapping in self._maps:
            if key in mapping:
                return mapping[key]
        raise KeyError(key)

    @overload
    def get(self, key: AppKey[_T], default: None = None) -> _T | None: ...
    @overload
    def get(self, key: AppKey[_T], default: _T) -> _T: ...
    @overload
    def get(self, key: str, default: Any = None) -> Any: ...
    def get(self, key: Any, default: Any = None) -> Any:
        for mapping in self._maps:
            if key in mapping:
                return mapping[key]
        return default

    def __contains__(self, key: object) -> bool:
        return any(key in mapping for mapping in self._maps)

    def __iter__(self) -> Iterator[Any]:
        keys: dict[Any, None] = {}
        for mapping in self._maps:
            keys.update(dict.fromkeys(mapping))
        return iter(keys)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return any(self._maps)

    def __repr__(self) -> str:
        return f"<ChainMapProxy {list(self._maps)!r}>"
