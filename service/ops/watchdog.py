"""Say so when the event loop is blocked, and by what.

A handler that calls ``time.sleep``, a blocking client library or heavy CPU work
holds the whole process: no other connection is served until it returns. The
server cannot prevent that, but it can name the culprit. The loop notes the time
every ``threshold / 4`` seconds; a daemon thread checks the note, and when it is
older than ``threshold`` it logs one warning with the loop thread's current
stack -- the line that blocks -- then one line when the loop runs again.

Nothing here runs per request: the cost is one timer callback on the loop and one
thread wake-up, a few times a second.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback

__all__ = ["Watchdog"]

server_log = logging.getLogger("service.server")


class Watchdog:
    """Warns when the running loop has not run for ``threshold`` seconds."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._interval = threshold / 4
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None
        self._loop_thread = threading.get_ident()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop_thread = threading.get_ident()
        self._tick(loop)
        self._thread = threading.Thread(
            target=self._watch, args=(loop,), name="service-watchdog", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking; the thread ends at its next wake-up (not waited for)."""
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` for the thread ``start`` began to end; True if it has ended."""
        if self._thread is None:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self._last = time.monotonic()
        self._timer = loop.call_later(self._interval, self._tick, loop)

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        blocked_since: float | None = None
        while not self._stop.wait(self._interval):
            if loop.is_closed():
                return  # the server was never stopped properly: nothing left to watch
            if not loop.is_running():
                blocked_since = None  # stopped between runs (run_until_complete), not blocked
                continue
            last = self._last
            stalled = time.monotonic() - last
            if blocked_since is None and stalled > self.threshold:
                blocked_since = last
                frame = sys._current_frames().get(self._loop_thread)
                where = "".join(traceback.format_stack(frame, limit=8)) if frame is not None else ""
                server_log.warning(
                    "The event loop has been blocked for %.1f s; no connection is served meanwhile "
                    "(blocking I/O or heavy work belongs in asyncio.to_thread). It is running:\n%s",
                    stalled,
                    where.rstrip(),
                )
            elif blocked_since is not None and last > blocked_since:
                server_log.warning("The event loop runs again after %.1f s blocked", last - blocked_since)
                blocked_since = None
