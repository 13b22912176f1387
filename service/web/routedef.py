"""Route declarations: what code (``RouteTableDef``) and routes.yaml both produce.

A ``RouteDef`` is a plain value -- method, path pattern, handler, optional name
and where it was declared. Nothing is checked or compiled here; ``Router`` does
that when the declaration is added, so code and YAML get the same errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from .request import Request
    from .response import StreamResponse

__all__ = [
    "Handler",
    "RouteDef",
    "RouteTableDef",
    "delete",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "route",
    "view",
]

Handler = Callable[["Request"], Awaitable["StreamResponse"]]
_H = TypeVar("_H", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class RouteDef:
    """One declared route. ``origin`` says where (``file:line:col``) for messages."""

    method: str
    path: str
    handler: Handler
    name: str | None = None
    origin: str | None = None


class RouteTableDef(Sequence[RouteDef]):
    """Collects routes with decorators; pass it to ``Application.add_routes``."""

    def __init__(self) -> None:
        self._items: list[RouteDef] = []

    def route(self, method: str, path: str, *, name: str | None = None) -> Callable[[_H], _H]:
        def register(handler: _H) -> _H:
            self._items.append(RouteDef(method, path, handler, name))
            return handler

        return register

    def get(self, path: str, *, name: str | None = None) -> Callable[[_H], _H]:
        return self.route("GET", path, name=name)

    def head(self, path: str, *, name: str | None = None) -> Callable[[_H], _H]:
        return self.route("HEAD", path, name=name)

    def post(self, path: str, *, name: str | None = None) -> Callable[[_H], _H]:
        return self.route("POST", path, name=name)

    def put(self, path: str, *, name: str | None = None) -> Callable[[_H], _H]:
        return self.route("PUT", path, name=name)

    def patch(self, path: str, *, name: str | None = None) -> Callable[[_H], _H]:
        return self.route("PATCH", path, name=name)

    def delete(self, path: str, *, name: str | None = None) -> Callable[[_H], _H]:
        return self.route("DELETE", path, name=name)

    def options(self, path: str, *, name: str | None = None) -> Callable[[_H], _H]:
        return self.route("OPTIONS", path, name=name)

    def view(self, path: str, *, name: str | None = None) -> Callable[[_H], _H]:
        """Decorate a ``web.View`` class: it answers every method it defines at ``path``."""
        return self.route("*", path, name=name)

    @overload
    def __getitem__(self, index: int) -> RouteDef: ...
    @overload
    def __getitem__(self, index: slice) -> list[RouteDef]: ...
    def __getitem__(self, index: int | slice) -> RouteDef | list[RouteDef]:
        return self._items[index]

    def __iter__(self) -> Iterator[RouteDef]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<RouteTableDef count={len(self._items)}>"


# -- aiohttp's route helpers: web.get("/", handler) and the like, for app.add_routes([...]) --


def route(method: str, path: str, handler: Handler, *, name: str | None = None) -> RouteDef:
    return RouteDef(method, path, handler, name)


def get(path: str, handler: Handler, *, name: str | None = None) -> RouteDef:
    """A GET route (it answers HEAD too, as every GET route does here)."""
    return RouteDef("GET", path, handler, name)


def head(path: str, handler: Handler, *, name: str | None = None) -> RouteDef:
    return RouteDef("HEAD", path, handler, name)


def post(path: str, handler: Handler, *, name: str | None = None) -> RouteDef:
    return RouteDef("POST", path, handler, name)


def put(path: str, handler: Handler, *, name: str | None = None) -> RouteDef:
    return RouteDef("PUT", path, handler, name)


def patch(path: str, handler: Handler, *, name: str | None = None) -> RouteDef:
    return RouteDef("PATCH", path, handler, name)


def delete(path: str, handler: Handler, *, name: str | None = None) -> RouteDef:
    return RouteDef("DELETE", path, handler, name)


def options(path: str, handler: Handler, *, name: str | None = None) -> RouteDef:
    return RouteDef("OPTIONS", path, handler, name)


def view(path: str, handler: Any, *, name: str | None = None) -> RouteDef:
    """A ``web.View`` class at ``path``, for every method it defines."""
    return RouteDef("*", path, handler, name)
