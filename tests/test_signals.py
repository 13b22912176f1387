"""run_app and signals, in a real process: SIGINT stops it like SIGTERM, and a
second signal ends a graceful shutdown that is waiting on a handler."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serving import ChildProcess

LIMIT = 20.0  # bound on every wait; the forced stop must come well before shutdown_timeout

APP = """
import asyncio, sys
from service import web

routes = web.RouteTableDef()

@routes.get("/hang")
async def hang(request):
    await asyncio.Event().wait()  # never answers by itself

app = web.Application()
app.add_routes(routes)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), shutdown_timeout=600)
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ChildProcess]:
    """``APP`` running on a free port of 127.0.0.1, killed at teardown if still up."""
    (tmp_path / "app.py").write_text(APP)
    proc = ChildProcess([sys.executable, "app.py", "0"], cwd=tmp_path)
    try:
        proc.wait_serving()
        yield proc
    finally:
        proc.kill()


def test_sigint_stops_the_server_gracefully(app: ChildProcess) -> None:
    app.signal(signal.SIGINT)
    assert app.wait_exit() == 0


def test_a_second_signal_ends_a_shutdown_waiting_on_a_handler(app: ChildProcess) -> None:
    with socket.create_connection(("127.0.0.1", app.port), timeout=LIMIT) as client:
        client.sendall(b"GET /hang HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.2)  # let the request reach its handler
        app.signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            app.proc.wait(1.0)  # graceful: still waiting for the hanging handler (timeout 600 s)
        app.signal(signal.SIGTERM)  # the second signal: stop now
        assert app.wait_exit() == 0
