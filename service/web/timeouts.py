"""A handler's timeout: 503 (and the handler cancelled) when it runs longer than allowed.

PERF: ``asyncio.timeout()`` arms and disarms a timer per call, ~4.6 us even on
uvloop, more than a whole simple request. Most handlers finish in far less time
than any timeout, many without ever suspending. So each wrapped handler keeps
its calls in flight in a dict -- an insert and a pop per call -- and one timer
per route, armed only while calls are in flight, for the earliest deadline among
them; when it fires it cancels the calls that are past theirs and re-arms for
the next. The cancellation is asyncio.timeout's: the task is cancelled, and the
CancelledError that comes back is turned into the 503 only if this cancellation
was the task's only one (``Task.uncancel``), so a client that disconnects, or an
outer timeout, still cancels as it should.
"""

from __future__ import annotations

import asyncio
import itertools

from .httpexc import HTTPServiceUnavailable
from .request import Request
from .response import StreamResponse
from .routedef import Handler

__all__ = ["with_timeout"]


class _Deadlines:
    """The calls of one handler in flight: key -> [deadline, task, fired]."""

    __slots__ = ("calls", "timer", "loop", "keys")

    def __init__(self) -> None:
        self.calls: dict[int, list[object]] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # the timer's (an app may outlive a loop)
        self.keys = itertools.count()

    def arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self.loop = loop
        self.timer = loop.call_at(when, self.expire, loop)

    def expire(self, loop: asyncio.AbstractEventLoop) -> None:
        self.timer = None
        now = loop.time()
        earliest = None
        for entry in self.calls.values():
            deadline: float = entry[0]  # type: ignore[assignment]
            if entry[2]:
                continue  # cancelled already: its handler is finishing
            if deadline <= now:
                entry[2] = True
                entry[1].cancel()  # type: ignore[attr-defined]
            elif earliest is None or deadline < earliest:
                earliest = deadline
        if earliest is not None:
            self.arm(loop, earliest)


def with_timeout(handler: Handler, seconds: float) -> Handler:
    """``handler``, answering 503 (and cancelling it) when it runs longer than ``seconds``."""
    deadlines = _Deadlines()
    calls, keys = deadlines.calls, deadlines.keys

    async def timed(request: Request) -> StreamResponse:
        task = asyncio.current_task()
        if task is None:  # (not in a task: nothing to cancel; asyncio.timeout would refuse too)
            raise RuntimeError("a handler with a timeout must run inside a task")
        loop = task.get_loop()
        key = next(keys)
        deadline = loop.time() + seconds
        entry: list[object] = [deadline, task, False]
        calls[key] = entry
        if deadlines.timer is None or deadlines.loop is not loop:
            deadlines.arm(loop, deadline)  # (a later call's deadline is never earlier)
        try:
            return await handler(request)
        except asyncio.CancelledError:
            if entry[2] and task.uncancel() == 0:  # ours, and nobody else's
                raise HTTPServiceUnavailable(text="503: the handler did not answer in time") from None
            raise
        finally:
            del calls[key]

    return timed
