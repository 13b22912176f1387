"""``on_response_prepare``: hooks that see every response just before its head is sent.

aiohttp calls ``app.on_response_prepare`` hooks (``async def hook(request,
response)``) from ``StreamResponse.prepare``, for the application that handled the
request and every application above it, the root's first; a hook may change the
headers. Here a whole ``Response`` is usually never prepared -- the connection
renders it in one write -- so the hooks run in two places:

- ``StreamResponse.prepare`` (and ``Response.prepare``) runs ``request.app``'s
  ``prepare_hooks`` (``run_prepare_hooks``, streamresponse.py): a handler that
  prepares its own response does so inside its app;
- ``PrepareStep`` wraps ``Application.handle`` and runs them for a whole
  ``Response`` the handler returned unprepared, choosing the hooks by the route
  that answered (a sub-application's routes get its chain of hooks).

Each application's ``prepare_hooks`` -- its parents' hooks, then its own -- is
compiled once, when the root freezes; ``PrepareStep`` is put in place only when
some application has a hook, so an application without any runs today's
``handle`` with no step and no branch.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from .response import Response, internal_error

if TYPE_CHECKING:
    from .request import Request
    from .router import Route
    from .streamresponse import StreamResponse

__all__ = ["PrepareHook", "PrepareStep"]

PrepareHook = Callable[["Request", "StreamResponse"], Awaitable[None]]
error_log = logging.getLogger("service.error")


class PrepareStep:
    """``Application.handle`` with the hooks run on the whole response it returns."""

    __slots__ = ("_handle", "_hooks_for")

    def __init__(
        self,
        handle: Callable[[Request], Awaitable[StreamResponse]],
        hooks_for: Callable[[Route | None], Sequence[PrepareHook]],
    ) -> None:
        self._handle = handle
        self._hooks_for = hooks_for  # the root app's prepare_hooks_for: the hooks of a route's chain

    async def __call__(self, request: Request) -> StreamResponse:
        response = await self._handle(request)
        if not isinstance(response, Response) or response.prepared:
            return response  # prepare() runs the hooks (or has run them)
        try:
            for hook in self._hooks_for(request.route):
                await hook(request, response)
        except Exception:  # the application's error: a 500, as a handler's would be
            error_log.exception("Error in on_response_prepare for %s %s", request.method, request.raw_path)
            return internal_error()
        return response
