"""Slow and greedy clients cannot hold the server.

* 200 connections trickling a head byte by byte: a well-behaved client is still
  answered while they trickle, and each trickler is cut off (408, close) at the
  header timeout.
* 50 connections uploading a body a byte at a time: other clients are answered
  meanwhile, and each upload is cut off (408, close) at the body timeout.
* A client that never reads at all is dropped after the send timeout.
* A client that pipelines thousands of requests and never reads its responses:
  the server stops reading it (its write buffer fills, reading pauses), and other
  clients are answered meanwhile.
Waits are bounded; nothing asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

import pytest

from service import Application, Limits, Request, Response, Server, StreamResponse

MakeServer = Callable[..., Awaitable[Server]]
BOUND = 10.0


def _app() -> Application:
    async def ok(request: Request) -> Response:
        return Response(text="ok")

    async def echo(request: Request) -> Response:
        return Response(body=await request.read())

    app = Application()
    app.router.add_get("/ok", ok)
    app.router.add_post("/echo", echo)
    return app


async def _get_ok(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        await writer.drain()
        return await asyncio.wait_for(reader.read(), BOUND)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


SLOW_HEAD = b"GET /ok HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"x" * 200 + b"\r\n\r\n"
UPLOAD_HEAD = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n"


@pytest.mark.parametrize(
    ("limits", "count", "first", "drip"),
    [
        # A head one byte every 0.2 s (46 s in all): 408 at the header timeout.
        pytest.param(Limits(header_timeout=3.0), 200, b"", SLOW_HEAD, id="200-trickled-heads"),
        # A whole head, then the body one byte every 0.2 s (its handler waits in read()):
        # 408 at the body timeout.
        pytest.param(Limits(body_timeout=3.0), 50, UPLOAD_HEAD, b"u" * 1000, id="50-slow-uploads"),
    ],
)
async def test_slow_clients_are_cut_off_and_do_not_delay_a_good_one(
    make_server: MakeServer, limits: Limits, count: int, first: bytes, drip: bytes
) -> None:
    server = await make_server(_app(), limits=limits)
    conns = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(count)]
    stop = asyncio.Event()

    async def slowly(writer: asyncio.StreamWriter) -> None:
        writer.write(first)
        for byte in drip:
            if stop.is_set() or writer.is_closing():
                return
            with contextlib.suppress(ConnectionError):
                writer.write(bytes([byte]))
            await asyncio.sleep(0.2)

    senders = [asyncio.create_task(slowly(w)) for _, w in conns]
    answers = [asyncio.create_task(r.read()) for r, _ in conns]
    try:
        await asyncio.sleep(0.5)  # every slow client has begun
        for _ in range(5):
            assert (await _get_ok(server.port)).startswith(b"HTTP/1.1 200 OK")
        # Answered while they all are still sending: not made to wait for their cut-off.
        assert not any(a.done() for a in answers), "the good client waited for the slow ones"
        done = await asyncio.wait_for(asyncio.gather(*answers), BOUND)
        assert all(a.startswith(b"HTTP/1.1 408 ") for a in done), {a[:20] for a in done}
    finally:
        stop.set()
        for task in answers:
            task.cancel()
        await asyncio.gather(*senders, *answers, return_exceptions=True)
        for _, writer in conns:
            writer.close()
    assert (await _get_ok(server.port)).startswith(b"HTTP/1.1 200 OK")


async def test_a_client_that_never_reads_is_paused_and_others_are_served(make_server: MakeServer) -> None:
    big = b"x" * 65536

    async def large(request: Request) -> Response:
        return Response(body=big)

    app = _app()
    app.router.add_get("/big", large)
    server = await make_server(app)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, limit=2**16)
    writer.transport.pause_reading()  # this client never reads what it is sent
    writer.write(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n" * 2000)  # 128 MiB of answers asked for
    try:
        deadline = asyncio.get_running_loop().time() + BOUND
        while not any(c._sender.paused for c in server._ctx.connections):
            assert asyncio.get_running_loop().time() < deadline, "the server never stopped writing"
            await asyncio.sleep(0.05)
        for _ in range(5):  # others are served meanwhile
            assert (await _get_ok(server.port)).startswith(b"HTTP/1.1 200 OK")
        (conn,) = [c for c in server._ctx.connections if c._sender.paused]
        # What the server holds for it is bounded: one answer past the write buffer's
        # high-water mark, and the requests one read brought in.
        assert conn._transport.get_write_buffer_size() < 4 * 1024 * 1024
        assert conn._reading.paused  # and it reads no more of its requests until it reads answers
    finally:
        writer.transport.abort()


async def test_a_client_that_never_reads_is_dropped_at_the_send_timeout(make_server: MakeServer) -> None:
    """Waiting to write (more requests queued), or to flush the last answer before a close."""
    big = b"x" * 4 * 1024 * 1024

    async def large(request: Request) -> Response:
        return Response(body=big)

    app = _app()
    app.router.add_get("/big", large)
    server = await make_server(app, limits=Limits(send_timeout=0.5, keepalive_timeout=0.2))
    for pipelined in (20, 1):  # blocked in drain(); blocked in close() after the idle timeout
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, limit=2**16)
        writer.transport.pause_reading()  # this client never reads what it is sent
        writer.write(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n" * pipelined)
        try:
            deadline = asyncio.get_running_loop().time() + BOUND
            await asyncio.sleep(0.1)
            while server._ctx.connections:  # bounded: the server lets go of it
                assert asyncio.get_running_loop().time() < deadline, f"{pipelined}: still held"
                await asyncio.sleep(0.05)
        finally:
            writer.transport.abort()
    assert (await _get_ok(server.port)).startswith(b"HTTP/1.1 200 OK")


async def test_a_client_that_reads_slower_than_the_handler_writes_is_not_dropped(
    make_server: MakeServer,
) -> None:
    """send_timeout is for a client that reads nothing. This one reads all the time, only
    slower than its handler writes, so the write buffer grows (staying under the mark
    where writing pauses) while the handler runs; it must get the whole body."""
    writes = 60

    async def feed(request: Request) -> StreamResponse:
        sock = request._conn._transport.get_extra_info("socket")  # a small kernel buffer: the
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # transport's fills instead
        response = StreamResponse()
        await response.prepare(request)
        await response.write(b"a" * 80_000)  # past the high-water mark: drain() waits
        for _ in range(writes):  # then 20 KB/s for 3 s
            await response.write(b"b" * 1000)
            await asyncio.sleep(0.05)
        return response

    app = _app()
    app.router.add_get("/feed", feed)
    server = await make_server(app, limits=Limits(send_timeout=1.5))
    loop = asyncio.get_running_loop()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", server.port))
        await loop.sock_sendall(sock, b"GET /feed HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = bytearray()
        for _ in range(10_000):  # bounded; about 10 KB/s once past the first 58 KB
            size = 65536 if len(data) < 58_000 else 512
            chunk = await asyncio.wait_for(loop.sock_recv(sock, size), BOUND)
            if not chunk:
                break
            data += chunk
            await asyncio.sleep(0.01 if len(data) < 58_000 else 0.05)
    assert data.endswith(b"\r\n0\r\n\r\n"), data[-40:]  # the whole chunked body, then its end
    body = data.partition(b"\r\n\r\n")[2]  # chunk sizes 13880 and 3e8: no a or b in them
    assert body.count(b"a") == 80_000 and body.count(b"b") == writes * 1000
