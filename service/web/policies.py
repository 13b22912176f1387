"""Route policies at run time: each a wrapper around one route's handler, made at load.

routes.yaml's policies (config/policies.py says which apply to a route) are
compiled by project.py into the route's pipeline, cheapest refusal first:

    cors -> auth (401/403) -> rate_limit (429) -> max_body (413)
    -> concurrency (503 when full) -> timeout (503) -> models -> handler

so every refusal still carries its CORS fields, a request is authenticated before
it spends its client's rate, a request refused for its size never takes a
concurrency slot, and a slot is held for exactly the handler's time. (cors,
auth and rate_limit live in cors.py, auth.py and ratelimit.py.) A route with no policy gets no wrapper: its
hot path is the same as before policies existed.
"""

from __future__ import annotations

import asyncio
from collections import deque

from .httpexc import HTTPServiceUnavailable
from .request import Request
from .response import StreamResponse
from .routedef import Handler

__all__ = ["Gate", "with_concurrency", "with_max_body"]


def with_max_body(handler: Handler, limit: int) -> Handler:
    """``handler`` with ``limit`` as its request's body limit instead of ``client_max_size``.

    A body declared longer is refused with 413 before the handler runs, unread (the
    connection then closes: the rest may still be on its way); a chunked body is
    refused as soon as a whole read passes the limit, as with ``client_max_size``.
    """

    async def limited(request: Request) -> StreamResponse:
        length = request.content_length
        if length is not None and length > limit:
            raise request.too_large(limit, length)
        request.limit_body(limit)
        return await handler(request)

    return limited


class Gate:
    """At most ``limit`` holders at once, ``queue`` more waiting in arrival order; past
    that, ``enter`` refuses. (A plain counter and a deque: the loop is single-threaded.)"""

    def __init__(self, limit: int, queue: int) -> None:
        self.limit = limit
        self.queue = queue
        self.active = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def enter(self) -> bool:
        """Take a place (waiting for it if need be); False when none is free or queued."""
        if self.active < self.limit and not self._waiting:
            self.active += 1
            return True
        if len(self._waiting) >= self.queue:
            return False
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn  # ``leave`` hands its place over: ``active`` stays counted for us
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.leave()  # the place came just as we were cancelled: pass it on
            else:
                self._waiting.remove(turn)
            raise
        return True

    def leave(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the place goes to the next in line
                return
        self.active -= 1


def with_concurrency(handler: Handler, limit: int, queue: int, retry_after: int = 1) -> Handler:
    """``handler`` run at most ``limit`` times at once; ``queue`` more calls wait their turn;
    past that, an immediate 503 with ``Retry-After`` (seconds)."""
    gate = Gate(limit, queue)
    busy = {"Retry-After": str(retry_after)}

    async def gated(request: Request) -> StreamResponse:
        if not await gate.enter():
            raise HTTPServiceUnavailable(
                headers=busy, text=f"503: this route is busy ({limit} at once, {queue} waiting)"
            )
        try:
            return await handler(request)
        finally:
            gate.leave()

    return gated
