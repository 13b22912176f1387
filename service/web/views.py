"""Class-based views, as aiohttp's ``web.View``: one class answers several methods.

A view class is registered for every method (``router.add_view``, ``web.view``,
``RouteTableDef.view``, or a ``/path: module.ViewClass`` line in routes.yaml); each
request makes an instance around it and awaits it, which calls the method named
after the request's (``get``, ``post`` ...). A method the class does not define is
a 405 whose ``Allow`` lists those it does.

Where aiohttp is wrong, we stay right: a ``HEAD`` to a view without a ``head``
method is answered by its ``get`` (RFC 9110 section 9.3.2: a server should
answer HEAD wherever it answers GET; the connection sends no body for it), where
aiohttp answers 405.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from .httpexc import HTTPMethodNotAllowed
from .request import Request
from .response import StreamResponse
from .router import METHODS

__all__ = ["View", "is_view"]


class View:
    """Subclass it and define ``async def get(self)``, ``post``, ...; ``self.request`` is the request."""

    def __init__(self, request: Request) -> None:
        self._request = request

    @property
    def request(self) -> Request:
        return self._request

    def __await__(self) -> Generator[Any, None, StreamResponse]:
        return self._answer().__await__()

    async def _answer(self) -> StreamResponse:
        method = self._request.method
        handler = getattr(self, method.lower(), None) if method in METHODS else None
        if handler is None and method == "HEAD":
            handler = getattr(self, "get", None)
        if handler is None:
            raise HTTPMethodNotAllowed(method, self.allowed_methods())
        response: StreamResponse = await handler()
        return response

    @classmethod
    def allowed_methods(cls) -> set[str]:
        """The methods this view answers (HEAD wherever GET)."""
        allowed = {m for m in METHODS if callable(getattr(cls, m.lower(), None))}
        if "GET" in allowed:
            allowed.add("HEAD")
        return allowed


def is_view(handler: object) -> bool:
    """A ``View`` subclass (registered for every method, and awaited per request)."""
    return isinstance(handler, type) and issubclass(handler, View)
