"""run_app and signals, in a real process: SIGINT stops it like SIGTERM, and a
second signal ends a graceful shutdown that is waiting on a handler."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LIMIT = 20.0  # bound on every wait; the forced stop must come well before shutdown_timeout

APP = """
import asyncio, sys
from service import web

routes = web.RouteTableDef()

@routes.get("/hang")
async def hang(request):
    await asyncio.Event().wait()  # never answers by itself

@routes.get("/ok")
async def ok(request):
    return web.Response(text="ok")

app = web.Application()
app.add_routes(routes)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), shutdown_timeout=600)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    (tmp_path / "app.py").write_text(APP)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "app.py", str(port)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait(LIMIT)
    pytest.fail("the app did not start")


def test_sigint_stops_the_server_gracefully(tmp_path: Path) -> None:
    proc, _ = _start(tmp_path)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(LIMIT) == 0


def test_a_second_signal_ends_a_shutdown_waiting_on_a_handler(tmp_path: Path) -> None:
    proc, port = _start(tmp_path)
    with socket.create_connection(("127.0.0.1", port), timeout=LIMIT) as client:
        client.sendall(b"GET /hang HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.2)  # let the request reach its handler
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(1.0)  # graceful: still waiting for the hanging handler (timeout 600 s)
        proc.send_signal(signal.SIGTERM)  # the second signal: stop now
        assert proc.wait(LIMIT) == 0
