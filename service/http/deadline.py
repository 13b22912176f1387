"""A connection's one timer, and what it is waiting for.

A connection waits for one thing at a time: the rest of a head (``HEAD``), the
next request on an idle keep-alive connection (``IDLE``), a body its handler
waits for (``BODY``), or the client to close after an error answer (``LINGER``).
So it has one ``Deadline``: ``start(kind, delay)`` replaces whatever was armed,
``cancel()`` disarms it, ``kind`` says what is armed (None: nothing), and on
expiry the connection's callback is told which wait ran out. (What the sending
side waits for is the ``Sender``'s own: sender.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import Enum

__all__ = ["BODY", "HEAD", "IDLE", "LINGER", "Deadline", "Wait"]


class Wait(Enum):
    HEAD = "the rest of a request head"  # -> 408 (header_timeout)
    IDLE = "the next request"  # -> close (keepalive_timeout)
    BODY = "a body its handler waits for"  # -> 408 from read() (body_timeout)
    LINGER = "the client to close after an error answer"  # -> drop the connection (linger_timeout)


HEAD, IDLE, BODY, LINGER = Wait.HEAD, Wait.IDLE, Wait.BODY, Wait.LINGER  # PERF: module globals


class Deadline:
    """One armed timer at most, of a known kind."""

    __slots__ = ("_loop", "_expired", "_handle", "kind")

    def __init__(self, loop: asyncio.AbstractEventLoop, expired: Callable[[Wait], None]) -> None:
        self._loop = loop
        self._expired = expired
        self._handle: asyncio.TimerHandle | None = None
        self.kind: Wait | None = None

    def start(self, kind: Wait, delay: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_later(delay, self._fire)
        self.kind = kind

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.kind = None

    def _fire(self) -> None:
        kind = self.kind
        self._handle = self.kind = None
        if kind is not None:
            self._expired(kind)
