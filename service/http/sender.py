"""What one connection sends: deferred whole responses, flow control, stalled peers.

Theory of operation
-------------------
Whole responses are not written as they are made. ``Sender.defer`` keeps them until
the end of the event loop's iteration, when ``Batch.flush`` writes those of every
connection at once: a busy client is woken once per batch of answers instead of once
per answer (with many connections, most of a request's kernel time). Every other
write -- ``Sender.write`` for a streamed body, and the close, FIN or abort the
connection makes -- calls ``flush()`` first, so the order on the wire is the order
of the answers; more than 64 KiB waiting goes out at once, so the transport's flow
control sees it.

Flow control is asyncio's: the transport calls ``pause()`` when its buffer passes the
high-water mark and ``resume()`` when it falls below the low one; ``drain()`` waits
in between. A peer that takes none of what waits for it for ``send_timeout`` is
dropped (nginx's send_timeout): ``watch()`` polls the buffer while somebody waits on
it -- a ``drain()``, a close, a lingering close -- and a slow reader that keeps taking
bytes is never cut off, however long it takes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Batch", "Sender"]

_WRITE_AT_ONCE = 65536  # deferred bytes past which a connection's answers go out at once


class Batch:
    """The senders with deferred answers, written at the end of this loop iteration."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: list[Sender] = []

    def add(self, sender: Sender) -> None:
        if not self._pending:
            sender._loop.call_soon(self.flush)
        self._pending.append(sender)

    def flush(self) -> None:
        pending = self._pending
        self._pending = []
        for sender in pending:
            sender.flush()


class Sender:
    """The sending side of one connection."""

    __slots__ = (
        "transport",
        "paused",
        "_loop",
        "_batch",
        "_send_timeout",
        "_out",
        "_out_bytes",
        "_waiter",
        "_watch_timer",
        "_left",
        "_since",
        "_on_empty",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, batch: Batch, send_timeout: float) -> None:
        self.transport: asyncio.Transport | None = None  # set once connected, None once lost
        self.paused = False  # the transport's buffer is over its high-water mark
        self._loop = loop
        self._batch = batch
        self._send_timeout = send_timeout
        self._out: list[bytes] = []  # whole responses not yet written
        self._out_bytes = 0
        self._waiter: asyncio.Future[None] | None = None
        self._watch_timer: asyncio.TimerHandle | None = None
        self._left = 0  # the buffer's size at the last look
        self._since = 0.0  # when the peer last took bytes
        self._on_empty: Callable[[], None] | None = None

    # -- writing ---------------------------------------------------------------------------
    def defer(self, data: bytes) -> None:
        """Write ``data`` (a whole response) at the end of this loop iteration."""
        out = self._out
        if not out:
            self._batch.add(self)
        out.append(data)
        self._out_bytes += len(data)
        if self._out_bytes > _WRITE_AT_ONCE:
            self.flush()

    def flush(self) -> None:
        """Write what ``defer`` kept; before anything else reaches the transport."""
        out = self._out
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            self._out_bytes = 0
            if self.transport is not None:
                self.transport.write(data)

    def write(self, data: bytes) -> None:
        """Write now, after what waits (a streamed body after deferred whole answers)."""
        if self.transport is not None:
            self.flush()
            self.transport.write(data)

    def drop(self) -> None:
        """The connection is being aborted: what waits goes with it."""
        self._out.clear()
        self._out_bytes = 0

    # -- flow control ----------------------------------------------------------------------
    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._since = self._loop.time()  # progress, for watch()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def drain(self) -> None:
        """Wait while the transport's buffer is full (the peer not reading)."""
        if self.paused:
            waiter = self._loop.create_future()
            self._waiter = waiter
            self.watch()
            try:
                await waiter
            finally:
                self._waiter = None

    def lost(self) -> None:
        """The connection is gone: stop watching, drop what waits, fail a drain()."""
        self.transport = None
        if self._watch_timer is not None:
            self._watch_timer.cancel()
            self._watch_timer = None
        self._on_empty = None
        self.drop()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionResetError("client disconnected"))
            waiter.exception()  # mark retrieved: nobody may be waiting any more

    # -- a buffer that must empty ----------------------------------------------------------
    def watch(self, on_empty: Callable[[], None] | None = None) -> None:
        """Drop the connection if its buffer makes no progress for ``send_timeout``.

        ``on_empty`` is called once the buffer is empty (a lingering close starts its
        linger then).
        """
        if on_empty is not None:
            self._on_empty = on_empty
        if self._watch_timer is None and self.transport is not None:
            self._left = self.transport.get_write_buffer_size()
            self._since = self._loop.time()
            self._watch_timer = self._loop.call_later(self._poll(), self._check)

    def _poll(self) -> float:
        return min(0.5, self._send_timeout / 2)

    def _check(self) -> None:
        self._watch_timer = None
        transport = self.transport
        if transport is None:
            return
        # Only while the buffer can but shrink -- writing paused, or closing -- is a
        # smaller buffer the measure of progress.
        left = transport.get_write_buffer_size()
        if left == 0:
            on_empty, self._on_empty = self._on_empty, None
            if on_empty is not None:
                on_empty()
            return
        if not (self.paused or transport.is_closing() or self._on_empty is not None):
            return  # drain() is over: nobody waits on the buffer (a handler may be refilling it)
        now = self._loop.time()
        if left < self._left:  # progress: the peer is reading
            self._since = now
        self._left = left
        if now - self._since >= self._send_timeout:
            self.drop()
            transport.abort()
            return
        self._watch_timer = self._loop.call_later(self._poll(), self._check)
