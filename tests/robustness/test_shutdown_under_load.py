"""SIGTERM under load: every request whose handler started is answered in full.

A real ``python -m service serve`` process; several clients keep keep-alive
connections busy with slow requests. The handler notes each request id it
starts in a file; after SIGTERM every noted id must have reached its client as a
200 -- no in-flight request is reset -- and the process exits 0. Connections
attempted after the signal are refused or closed, never left hanging.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
LIMIT = 30.0

HANDLERS = """
import asyncio, os
from service import web

async def slow(request):
    with open(os.environ["STARTED_FILE"], "a") as f:
        f.write(request.query["id"] + "\\n")
    await asyncio.sleep(0.3)
    return web.Response(text=request.query["id"])
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigterm_under_load_answers_every_started_request(tmp_path: Path) -> None:
    (tmp_path / "loadh.py").write_text(HANDLERS)
    (tmp_path / "routes.yaml").write_text(
        "service:\n  shutdown_timeout: 10s\nroutes:\n  GET /slow: loadh.slow\n"
    )
    started_file = tmp_path / "started.txt"
    started_file.write_text("")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "STARTED_FILE": str(started_file)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "routes.yaml", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    answered: set[str] = set()
    problems: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(number: int) -> None:
        sent = 0
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=LIMIT)
        except OSError:
            return
        with sock:
            buffer = b""
            while not stop.is_set() and sent < 200:
                request_id = f"{number}-{sent}"
                sent += 1
                try:
                    sock.sendall(f"GET /slow?id={request_id} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
                    while b"\r\n\r\n" not in buffer or not buffer.endswith(request_id.encode()):
                        chunk = sock.recv(4096)
                        if not chunk:
                            return  # closed between requests: fine, unless this one started
                        buffer += chunk
                except OSError as exc:  # a reset: fine only if this request never started
                    with lock:
                        problems.append(f"{request_id}: {exc!r}")
                    return
                with lock:
                    if buffer.startswith(b"HTTP/1.1 200 "):
                        answered.add(request_id)
                    else:
                        problems.append(f"{request_id}: {buffer[:40]!r}")
                buffer = b""

    try:
        deadline = time.monotonic() + LIMIT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # load is running: requests are in flight
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(LIMIT) == 0
        stop.set()
        for thread in threads:
            thread.join(LIMIT)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait(LIMIT)

    started = set(started_file.read_text().split())
    assert started, "no request reached a handler"
    assert started <= answered, (
        f"started but not answered: {sorted(started - answered)}; problems: {problems}"
    )
    assert not [p for p in problems if p.split(":")[0] in started]
    # Afterwards nobody listens: a new connection is refused.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
