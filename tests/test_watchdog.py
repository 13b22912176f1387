"""The watchdog warns about a blocked event loop, and only about that."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from service.ops.watchdog import Watchdog


def test_a_stopped_loop_is_not_blocked_and_a_closed_one_ends_the_watch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="service.server")
    loop = asyncio.new_event_loop()
    watchdog = Watchdog(0.1)
    watchdog.start(loop)
    loop.run_until_complete(asyncio.sleep(0.05))
    time.sleep(0.5)  # the loop is not running (between run_until_complete calls): not blocked
    loop.close()  # never stopped: the watch ends by itself
    assert watchdog.join(5.0)
    assert [r.getMessage() for r in caplog.records if "blocked" in r.getMessage()] == []


def test_a_blocked_loop_is_reported_once_with_the_blocking_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="service.server")

    async def block() -> None:
        await asyncio.sleep(0.05)
        time.sleep(0.8)  # noqa: ASYNC251 - the mistake under test
        await asyncio.sleep(0.3)  # running again: the watch says so

    loop = asyncio.new_event_loop()
    watchdog = Watchdog(0.2)
    watchdog.start(loop)
    try:
        loop.run_until_complete(block())
    finally:
        watchdog.stop()
        loop.close()
    messages = [r.getMessage() for r in caplog.records]
    blocked = [m for m in messages if "has been blocked" in m]
    assert blocked and all("in block" in m and "time.sleep(0.8)" in m for m in blocked), messages
    assert any("runs again" in m for m in messages), messages
