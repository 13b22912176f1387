"""Clients that vanish mid-request or mid-response: nothing is logged as an error
(the autouse check in this folder's conftest fails a test that logs one), the
handler finishes or stops cleanly, no task or connection is left behind, and a
graceful shutdown still waits for a handler whose client has gone."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from service import Application, Request, Response, Server, StreamResponse

MakeServer = Callable[..., Awaitable[Server]]
BOUND = 10.0


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # RST


async def _settled(server: Server, baseline: int) -> None:
    """Wait (bounded) until no connection, orphan or stray task is left."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND
    while server._ctx.busy or len(asyncio.all_tasks()) > baseline:
        assert loop.time() < deadline, (server._ctx.busy, asyncio.all_tasks())
        await asyncio.sleep(0.05)


async def test_vanishing_clients_leave_nothing_behind(make_server: MakeServer) -> None:
    finished: list[str] = []

    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.2)
        finished.append("slow")
        return Response(text="late")

    async def upload(request: Request) -> Response:
        return Response(body=await request.read())

    async def stream(request: Request) -> StreamResponse:
        response = StreamResponse()
        await response.prepare(request)
        for _ in range(10_000):
            await response.write(b"x" * 65536)  # the client is gone long before this ends
        return response

    app = Application()
    app.router.add_get("/slow", slow)
    app.router.add_post("/upload", upload)
    app.router.add_get("/stream", stream)
    server = await make_server(app)
    baseline = len(asyncio.all_tasks())

    for request in (
        b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n",  # gone while its handler runs
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"y" * 1000,  # mid-body
        b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n",  # mid-response
    ):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(request)
        await asyncio.sleep(0.1)
        _reset(sock)
        await _settled(server, baseline)

    assert finished == ["slow"]  # handlers are not cancelled when the client goes
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert (await asyncio.wait_for(reader.read(), BOUND)).endswith(b"late")  # and the server goes on
    writer.close()


async def test_shutdown_waits_for_a_handler_whose_client_has_gone(make_server: MakeServer) -> None:
    release = asyncio.Event()
    finished: list[str] = []

    async def slow(request: Request) -> Response:
        await release.wait()
        finished.append("done")
        return Response(text="late")

    app = Application()
    app.router.add_get("/slow", slow)
    cleaned: list[list[str]] = []

    async def cleanup(app: Application) -> None:
        cleaned.append(list(finished))

    app.on_cleanup.append(cleanup)
    server = await make_server(app, shutdown_timeout=5)
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    await asyncio.sleep(0.1)
    _reset(sock)  # the client is gone, its handler still runs
    await asyncio.sleep(0.1)
    shutdown = asyncio.create_task(server.shutdown())
    await asyncio.sleep(0.2)
    assert not shutdown.done()  # waiting for the orphaned handler
    release.set()
    await asyncio.wait_for(shutdown, BOUND)
    assert cleaned == [["done"]]  # the handler finished before on_cleanup ran
