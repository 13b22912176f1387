"""Run a coroutine at once, and give it a Task only if it suspends.

Most handlers never wait on anything: they build a response and return. Giving
each request its own ``asyncio.Task`` (created, registered, scheduled, stepped)
costs more than such a handler. ``EagerRunner.run`` instead steps the coroutine
synchronously; if it finishes, that was the whole cost. If it suspends, the
runner's own Task -- one per connection, parked on a future -- continues it.

``asyncio.current_task()`` must still be right during the synchronous step, or
``asyncio.timeout()`` and ``TaskGroup`` inside a handler would fail. So the
step runs with the runner's Task *entered* as the current task (the mechanism
Python 3.12's eager tasks use), and a suspended coroutine is continued by that
same Task: a timeout that captured it cancels the right thing. Each run gets its
own copy of the context, entered for every step, so context variables behave as
in a Task of their own.
"""

from __future__ import annotations

import asyncio
import contextvars

# The same C functions asyncio's Task uses around each step.
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["EagerRunner"]


class _Resume:
    """Await this to continue a coroutine that has already yielded ``first``."""

    __slots__ = ("_coro", "_first", "_ctx", "_throw")

    def __init__(
        self,
        coro: Coroutine[Any, Any, None],
        first: Any,
        ctx: contextvars.Context,
        throw: BaseException | None = None,
    ) -> None:
        self._coro = coro
        self._first = first
        self._ctx = ctx
        self._throw = throw

    def __await__(self) -> Generator[Any, Any, None]:
        coro, run = self._coro, self._ctx.run
        try:
            value = run(coro.throw, self._throw) if self._throw is not None else self._first
            while True:
                try:
                    sent = yield value  # to the Task: the future the coroutine waits on
                except BaseException as exc:  # noqa: B036 - cancellation must reach the coroutine
                    value = run(coro.throw, exc)
                else:
                    value = run(coro.send, sent)
        except StopIteration:
            return


class EagerRunner:
    """Runs one connection's coroutines eagerly, one at a time."""

    __slots__ = ("_loop", "_task", "_wake", "_handoff", "_closed")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] = loop.create_future()
        self._handoff: tuple[Coroutine[Any, Any, None], Any, contextvars.Context] | None = None
        self._closed = False

    def run(self, coro: Coroutine[Any, Any, None]) -> None:
        """Step ``coro`` now; if it suspends, the runner's Task takes it over."""
        task = self._task
        if task is None:
            task = self._task = self._loop.create_task(self._serve())
        ctx = contextvars.copy_context()
        try:
            _enter_task(self._loop, task)
        except RuntimeError:
            # Called from inside another task (tests drive protocols that way): no
            # eager step there; the coroutine gets a Task of its own.
            self._loop.create_task(coro, context=ctx)
            return
        try:
            first = ctx.run(coro.send, None)
        except StopIteration:
            return
        finally:
            _leave_task(self._loop, task)
        self._handoff = (coro, first, ctx)
        self._wake.set_result(None)

    async def _serve(self) -> None:
        while not self._closed:
            try:
                await self._wake
            except asyncio.CancelledError:
                # Cancelled between the hand-off and our first step: the coroutine
                # handed to us is the one the cancellation was meant for.
                if self._handoff is None:
                    raise
                coro, first, ctx = self._handoff
                self._handoff = None
                await _Resume(coro, first, ctx, asyncio.CancelledError())
                raise
            self._wake = self._loop.create_future()
            handoff, self._handoff = self._handoff, None
            if handoff is not None:
                await _Resume(*handoff)

    def cancel(self) -> None:
        """Cancel the coroutine in progress (forced shutdown), or the idle runner."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()

    def close(self) -> None:
        """No more work: the runner ends once the coroutine in progress, if any, ends."""
        self._closed = True
        if self._task is not None and self._handoff is None and not self._wake.done():
            # Idle: nothing to finish. (A coroutine being continued finishes first.)
            self._wake.set_result(None)
