"""One request's body as it arrives: the one buffer ``read()``, ``text()`` and ``json()`` view.

The connection creates a ``RequestBody`` for each request that has a body (none
for the rest: PERF), hands it to the ``Request``, and from then on talks only to
it: ``feed()`` each chunk, ``end()`` once the message is complete, or ``end(error)``
when it cannot be (the client left, a limit, a timeout, a fault of ours). The
body owns its limit (the app's ``client_max_size``; past it, 413), its buffer and
its one waiter; the handler's side waits in ``wait()`` and takes the bytes with
``take()``. Nothing here knows the server or the request it belongs to.
"""

from __future__ import annotations

import asyncio

from .httpexc import HTTPRequestEntityTooLarge

__all__ = ["RequestBody"]


class RequestBody:
    """The bytes of one request body, fed by the connection, read by the handler."""

    __slots__ = ("_limit", "_chunks", "_waiter", "size", "done", "error")

    def __init__(self, limit: int | None) -> None:
        self._limit = limit  # None: no limit (as aiohttp's client_max_size=None)
        self._chunks: list[bytes] = []
        self._waiter: asyncio.Future[None] | None = None
        self.size = 0  # bytes received so far
        self.done = False  # no more bytes will come (complete, or failed)
        self.error: Exception | None = None  # why the body cannot be read, if it cannot

    @property
    def complete(self) -> bool:
        """Received whole: the connection can go on to the next request."""
        return self.done and self.error is None

    @property
    def buffered(self) -> bool:
        return bool(self._chunks)

    # -- the connection's side -------------------------------------------------------------
    def feed(self, chunk: bytes) -> None:
        if self.error is not None:
            return
        self.size += len(chunk)
        limit = self._limit
        if limit is not None and self.size > limit:
            self.end(HTTPRequestEntityTooLarge(limit, self.size))
            return
        self._chunks.append(chunk)

    def end(self, error: Exception | None = None) -> None:
        """No more bytes come; with ``error``, the body fails with it (the first error wins)."""
        if error is not None and self.error is None:
            self.error = error
            self._chunks = []
        self.done = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the handler's side ------------------------------------------------------------------
    async def wait(self) -> None:
        """Until the body is done."""
        while not self.done:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def take(self) -> bytes:
        """The whole body, once done; its error if it failed."""
        if self.error is not None:
            raise self.error
        data = b"".join(self._chunks)
        self._chunks = []
        return data
