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

__all__ = ["Handler", "RouteDef", "RouteTableDef"]

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
