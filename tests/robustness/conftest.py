"""Robustness tests share one rule besides their own assertions: nothing may crash.

A crash is an error the server logs (``service.*``) or an exception asyncio reports
as unhandled (logged under ``asyncio``); either fails the test that caused it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_crash(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.ERROR)
    yield
    crashes = [
        r
        for r in caplog.get_records("call") + caplog.get_records("teardown")
        if r.levelno >= logging.ERROR and r.name.split(".")[0] in ("service", "asyncio")
    ]
    assert not crashes, "the server logged errors:\n" + "\n".join(r.getMessage() for r in crashes)


@pytest.fixture(params=[False, True], ids=["whole", "bytewise"])
def bytewise(request: pytest.FixtureRequest) -> bool:
    """Send each case in one write, or one byte per write (after h11's tests)."""
    return bool(request.param)
