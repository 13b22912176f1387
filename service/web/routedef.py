"""Route declarations: what code (``RouteTableDef``) and routes.yaml both produce.

A ``RouteDef`` is a plain value -- method, path pattern, handler, optional name,
where it was declared and an optional ``expect_handler``; a ``StaticDef`` (from
``web.static``) declares a directory of files. Nothing is checked or compiled
here: each declaration's ``register(router)`` hands it to the ``Router`` when the
app adds it, so code and YAML get the same errors.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack, overload

if TYPE_CHECKING:
    from .request import Request
    from .response import StreamResponse
    from .router import Route, Router

__all__ = [
    "AbstractRouteDef",
    "ExpectHandler",
    "Handler",
    "RouteDef",
    "RouteOptions",
    "RouteTableDef",
    "StaticDef",
    "delete",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "route",
    "static",
    "view",
]

Handler = Callable[["Request"], Awaitable["StreamResponse"]]
# Runs before the handler for a request sent with ``Expect`` (expect.py): a response
# (or a raised HTTPException) answers instead; None lets the handler run.
ExpectHandler = Callable[["Request"], Awaitable["StreamResponse | None"]]
_H = TypeVar("_H", bound=Callable[..., Any])


class RouteOptions(TypedDict, total=False):
    """The keywords a route declaration takes besides method, path and handler."""

    name: str | None
    expect_handler: ExpectHandler | None


class AbstractRouteDef(abc.ABC):
    """A declaration ``Application.add_routes`` takes: it adds itself to a router."""

    __slots__ = ()

    @abc.abstractmethod
    def register(self, router: Router) -> list[Route]:
        """Add the declared routes to ``router``; the routes added."""


@dataclass(frozen=True, slots=True)
class RouteDef(AbstractRouteDef):
    """One declared route. ``origin`` says where (``file:line:col``) for messages."""

    method: str
    path: str
    handler: Handler
    name: str | None = None
    origin: str | None = None
    expect_handler: ExpectHandler | None = None

    def register(self, router: Router) -> list[Route]:
        route = router.add_route(
            self.method,
            self.path,
            self.handler,
            name=self.name,
            origin=self.origin,
            expect_handler=self.expect_handler,
        )
        return [route]


@dataclass(frozen=True, slots=True)
class StaticDef(AbstractRouteDef):
    """A directory of files served at ``prefix`` (``web.static``); ``kwargs`` are ``add_static``'s."""

    prefix: str
    path: str | os.PathLike[str]
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def register(self, router: Router) -> list[Route]:
        return list(router.add_static(self.prefix, self.path, **self.kwargs))


class RouteTableDef(Sequence[AbstractRouteDef]):
    """Collects routes with decorators; pass it to ``Application.add_routes``."""

    def __init__(self) -> None:
        self._items: list[AbstractRouteDef] = []

    def route(self, method: str, path: str, **options: Unpack[RouteOptions]) -> Callable[[_H], _H]:
        def register(handler: _H) -> _H:
            self._items.append(route(method, path, handler, **options))
            return handler

        return register

    def get(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[_H], _H]:
        return self.route("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[_H], _H]:
        return self.route("HEAD", path, **kwargs)

    def post(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[_H], _H]:
        return self.route("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[_H], _H]:
        return self.route("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[_H], _H]:
        return self.route("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[_H], _H]:
        return self.route("DELETE", path, **kwargs)

    def options(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[_H], _H]:
        return self.route("OPTIONS", path, **kwargs)

    def view(self, path: str, **kwargs: Unpack[RouteOptions]) -> Callable[[_H], _H]:
        """Decorate a ``web.View`` class: it answers every method it defines at ``path``."""
        return self.route("*", path, **kwargs)

    def static(self, prefix: str, path: str | os.PathLike[str], **kwargs: Any) -> None:
        """Serve the directory ``path`` at ``prefix`` (``add_static``'s keywords)."""
        self._items.append(StaticDef(prefix, path, kwargs))

    @overload
    def __getitem__(self, index: int) -> AbstractRouteDef: ...
    @overload
    def __getitem__(self, index: slice) -> list[AbstractRouteDef]: ...
    def __getitem__(self, index: int | slice) -> AbstractRouteDef | list[AbstractRouteDef]:
        return self._items[index]

    def __iter__(self) -> Iterator[AbstractRouteDef]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<RouteTableDef count={len(self._items)}>"


# -- aiohttp's route helpers: web.get("/", handler) and the like, for app.add_routes([...]) --
# (each takes RouteOptions: name=, expect_handler=)


def route(method: str, path: str, handler: Handler, **options: Unpack[RouteOptions]) -> RouteDef:
    return RouteDef(method, path, handler, options.get("name"), expect_handler=options.get("expect_handler"))


def get(path: str, handler: Handler, **kwargs: Unpack[RouteOptions]) -> RouteDef:
    """A GET route (it answers HEAD too, as every GET route does here)."""
    return route("GET", path, handler, **kwargs)


def head(path: str, handler: Handler, **kwargs: Unpack[RouteOptions]) -> RouteDef:
    return route("HEAD", path, handler, **kwargs)


def post(path: str, handler: Handler, **kwargs: Unpack[RouteOptions]) -> RouteDef:
    return route("POST", path, handler, **kwargs)


def put(path: str, handler: Handler, **kwargs: Unpack[RouteOptions]) -> RouteDef:
    return route("PUT", path, handler, **kwargs)


def patch(path: str, handler: Handler, **kwargs: Unpack[RouteOptions]) -> RouteDef:
    return route("PATCH", path, handler, **kwargs)


def delete(path: str, handler: Handler, **kwargs: Unpack[RouteOptions]) -> RouteDef:
    return route("DELETE", path, handler, **kwargs)


def options(path: str, handler: Handler, **kwargs: Unpack[RouteOptions]) -> RouteDef:
    return route("OPTIONS", path, handler, **kwargs)


def view(path: str, handler: Any, **kwargs: Unpack[RouteOptions]) -> RouteDef:
    """A ``web.View`` class at ``path``, for every method it defines."""
    return route("*", path, handler, **kwargs)


def static(prefix: str, path: str | os.PathLike[str], **kwargs: Any) -> StaticDef:
    """A directory of files at ``prefix`` (``add_static``'s keywords: ``show_index``...)."""
    return StaticDef(prefix, path, kwargs)
