"""The connection cap and the handler timeout (off by default), as a client sees them."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from serving import ServiceProcess

from service import Application, Limits, Request, Response, Server

MakeServer = Callable[..., Awaitable[Server]]
BOUND = 10.0


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), BOUND)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_past_the_connection_cap_a_new_connection_gets_503_and_a_close(make_server: MakeServer) -> None:
    async def ok(request: Request) -> Response:
        return Response(text="ok")

    app = Application()
    app.router.add_get("/ok", ok)
    server = await make_server(app, limits=Limits(max_connections=2))
    held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
    try:
        await asyncio.sleep(0.1)  # both are accepted
        refused = await _exchange(server.port, b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
        assert refused.startswith(b"HTTP/1.1 503 ") and b"Connection: close" in refused
        # The held connections are served as usual.
        reader, writer = held[0]
        writer.write(b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), BOUND)).startswith(b"HTTP/1.1 200 OK")
    finally:
        for _, writer in held:
            writer.close()
    await asyncio.sleep(0.1)  # below the cap again: new connections are served
    assert (
        await _exchange(server.port, b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    ).startswith(b"HTTP/1.1 200 OK")


async def test_the_handler_timeout_answers_503_and_the_server_goes_on(make_server: MakeServer) -> None:
    cancelled: list[bool] = []

    async def hang(request: Request) -> Response:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return Response(text="late")

    async def ok(request: Request) -> Response:
        return Response(text="ok")

    app = Application(handler_timeout=0.2)
    app.router.add_get("/hang", hang)
    app.router.add_get("/ok", ok)
    server = await make_server(app)
    answer = await _exchange(server.port, b"GET /hang HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert cancelled == [True]
    ok_answer = await _exchange(server.port, b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert ok_answer.startswith(b"HTTP/1.1 200 OK")


def test_the_handler_timeout_is_off_by_default() -> None:
    assert Application().handler_timeout is None


def test_both_are_set_from_routes_yaml(tmp_path: Path) -> None:
    """``service.max_connections`` and ``service.handler_timeout`` reach a served process."""
    (tmp_path / "caph.py").write_text(
        "import asyncio\nfrom service import web\n\n"
        "async def ok(request):\n    return web.Response(text='ok')\n\n"
        "async def hang(request):\n    await asyncio.sleep(60)\n    return web.Response(text='late')\n"
    )
    (tmp_path / "routes.yaml").write_text(
        "service:\n  max_connections: 2\n  handler_timeout: 200ms\n  healthz: null\n"
        "routes:\n  GET /ok: caph.ok\n  GET /hang: caph.hang\n"
    )
    server = ServiceProcess("routes.yaml", "--no-reload", cwd=tmp_path)
    try:
        port = server.wait_serving()
        with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as first:
            first.sendall(b"GET /hang HTTP/1.1\r\nHost: t\r\n\r\n")  # held open, waiting for 503
            with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as second:
                second.sendall(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
                assert second.recv(4096).startswith(b"HTTP/1.1 200 OK")  # both accepted now
                with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as third:
                    assert _read_to_close(third).startswith(b"HTTP/1.1 503 ")  # past the cap
            assert first.recv(4096).startswith(b"HTTP/1.1 503 ")  # the handler timed out
    finally:
        assert server.terminate() == 0
        server.kill()


def _read_to_close(sock: socket.socket) -> bytes:
    data = b""
    for _ in range(100):  # bounded; each recv waits at most BOUND
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    raise AssertionError("the connection was not closed")
