"""Reading flow control: whether a connection's transport is reading, in one place.

A connection stops reading when its client is ahead of it (a request waits while
a handler runs) or when it will parse no more, and reads again when it can take
more. ``ReadFlow`` keeps the one flag and calls the transport only on a change;
the connection decides when (protocol.py). Writing has its own flow control, in
the ``Sender`` (sender.py).
"""

from __future__ import annotations

import asyncio

__all__ = ["ReadFlow"]


class ReadFlow:
    __slots__ = ("transport", "paused")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None  # None: not connected (or no longer)
        self.paused = False

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.transport.pause_reading()
            self.paused = True

    def resume(self) -> None:
        if self.paused and self.transport is not None:
            self.transport.resume_reading()
            self.paused = False
