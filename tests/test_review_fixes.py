"""Regressions found by review, each demonstrated against a real server first.

Every test here failed before its fix: trailers leaking into the next request,
a half-closed or stalled upload hanging its handler, ``gzip, chunked`` reaching
a handler, an HTTP/1.0 stream never delimited, a bad streamed header dropping
the connection instead of a 500, and shutdown not waiting for a handler whose
client had gone.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from service import Application, Limits, Request, Response, Server, StreamResponse

RawConnection = Any  # conftest.RawConnection (tests are not a package)
MakeServer = Callable[..., Awaitable[Server]]
RawConnect = Callable[[int], Awaitable[RawConnection]]


async def echo(request: Request) -> Response:
    return Response(body=await request.read())


async def headers(request: Request) -> Response:
    return Response(text=",".join(name for name, _ in request.headers.items()))


async def stream(request: Request) -> StreamResponse:
    response = StreamResponse()
    await response.prepare(request)
    await response.write(b"part one, ")
    await response.write(b"part two")
    await response.write_eof()
    return response


async def bad_stream_header(request: Request) -> StreamResponse:
    response = StreamResponse(headers={"X-Bad": "a\r\nInjected: yes"})
    await response.prepare(request)
    return response


def app() -> Application:
    application = Application()
    application.router.add_post("/echo", echo)
    application.router.add_get("/headers", headers)
    application.router.add_get("/stream", stream)
    application.router.add_get("/bad-stream", bad_stream_header)
    return application


async def test_trailer_fields_never_reach_the_next_request(
    make_server: MakeServer, raw_connect: RawConnect
) -> None:
    server = await make_server(app())
    conn = await raw_connect(server.port)
    await conn.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\nAuthorization: Bearer evil\r\nX-Smuggled: 1\r\n\r\n"
        b"GET /headers HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    first, second = await conn.read_response(), await conn.read_response()
    assert (first.status, first.body) == (200, b"abc")
    assert (second.status, second.body) == (200, b"Host")


async def test_too_many_trailer_fields_are_431(make_server: MakeServer, raw_connect: RawConnect) -> None:
    server = await make_server(app(), limits=Limits(max_header_count=4))
    conn = await raw_connect(server.port)
    trailers = b"".join(b"X-T%d: v\r\n" % i for i in range(50))
    await conn.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
        + trailers
        + b"\r\n"
    )
    response = await conn.read_response()
    assert response.status == 431
    assert await conn.at_eof()


async def test_a_half_closed_upload_is_answered_400_not_left_hanging(make_server: MakeServer) -> None:
    server = await make_server(app())
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
        await writer.drain()
        writer.transport.write_eof()  # SHUT_WR: the rest of the body will never come
        data = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in data


async def test_a_stalled_upload_is_408_after_the_body_timeout(make_server: MakeServer) -> None:
    server = await make_server(app(), limits=Limits(body_timeout=0.3))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 5)  # the server answers and closes
    finally:
        writer.close()
        await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 408 ")


async def test_gzip_then_chunked_is_501(make_server: MakeServer, raw_connect: RawConnect) -> None:
    server = await make_server(app())
    conn = await raw_connect(server.port)
    await conn.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    response = await conn.read_response()
    assert response.status == 501
    assert await conn.at_eof()


async def test_a_stream_to_an_http10_keep_alive_client_ends_by_closing(make_server: MakeServer) -> None:
    server = await make_server(app())
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 5)  # EOF: the body ends with the connection
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Connection: close" in head and b"Transfer-Encoding" not in head
    assert body == b"part one, part two"


async def test_a_bad_header_on_a_stream_is_a_500(make_server: MakeServer, raw_connect: RawConnect) -> None:
    server = await make_server(app())
    conn = await raw_connect(server.port)
    await conn.send(b"GET /bad-stream HTTP/1.1\r\nHost: t\r\n\r\n")
    response = await conn.read_response()
    assert response.status == 500
    assert b"Injected" not in response.raw


async def test_shutdown_waits_for_a_handler_whose_client_has_gone(make_server: MakeServer) -> None:
    release = asyncio.Event()
    finished: list[str] = []

    async def slow(request: Request) -> Response:
        await release.wait()
        finished.append("done")
        return Response(text="late")

    application = Application()
    application.router.add_get("/slow", slow)
    cleaned: list[list[str]] = []

    async def cleanup(app: Application) -> None:
        cleaned.append(list(finished))

    application.on_cleanup.append(cleanup)
    server = await make_server(application, shutdown_timeout=5)
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    await asyncio.sleep(0.1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # RST: the client is gone, its handler still runs
    await asyncio.sleep(0.1)
    shutdown = asyncio.create_task(server.shutdown())
    await asyncio.sleep(0.2)
    assert not shutdown.done()  # waiting for the orphaned handler
    release.set()
    await asyncio.wait_for(shutdown, 5)
    assert cleaned == [["done"]]  # the handler finished before on_cleanup ran
