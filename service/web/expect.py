"""A route's ``expect_handler``: its say on a request sent with ``Expect``, before the body.

A client that sends ``Expect: 100-continue`` waits for ``100 Continue`` before it
uploads the body (RFC 9110 section 10.1.1). The connection sends that only when
the handler first reads the body (request.py), so a handler that answers without
reading never makes the client upload.

A route's ``expect_handler`` (aiohttp's keyword) decides earlier. For a request
with an ``Expect`` field it runs first -- before the middlewares, as in aiohttp --
and:

- a response it returns, or an ``HTTPException`` it raises (typically
  ``HTTPExpectationFailed``, 417), is the answer: neither the middlewares nor the
  handler run, and no ``100 Continue`` is sent;
- None lets the request go on as any other: the ``100 Continue`` goes out when the
  handler first reads the body. (aiohttp leaves sending it to the expect handler;
  here nothing need be written by hand.)

The step is composed once, at freeze, around the routes that declare one
(``Router.freeze``); a route without one is compiled exactly as before, and a
request without ``Expect`` pays one header lookup on those routes only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .routedef import ExpectHandler, Handler

if TYPE_CHECKING:
    from .request import Request
    from .response import StreamResponse

__all__ = ["expect_first"]


def expect_first(call: Handler, expect_handler: ExpectHandler) -> Handler:
    """``call`` (a route's handler in its middlewares), ``expect_handler`` deciding first."""

    async def expecting(request: Request) -> StreamResponse:
        if request.headers.get("Expect"):
            response = await expect_handler(request)
            if response is not None:
                return response
        return await call(request)

    return expecting
