"""A refused request is read to the end of what the client sends, so it reads the refusal.

When the server answers an error (here 413 for a declared body over the limit) while
the client is still sending, closing at once would leave unread bytes in the socket,
and the kernel answers those with a reset: the client's send fails, and a reset can
destroy the answer before the client reads it. The server instead shuts its sending
side and drops what still arrives, until the client closes or ``linger_timeout``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable

import pytest

from service import Application, Limits, Request, Response, Server

from .support import TIMEOUT, build_app, parse_responses

MakeServer = Callable[..., Awaitable[Server]]
BODY = 4_000_000  # declared and sent: four times the 1 MiB limit


def _upload_over_the_limit(port: int, results: list[object]) -> None:
    """A blocking client: the head, then the whole body it declared, then the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % BODY)
        try:
            for _ in range(BODY // 40_000):
                sock.sendall(b"x" * 40_000)
        except OSError as exc:
            results.append(exc)
            return
        answer = b""
        while chunk := sock.recv(65536):  # to the server's FIN
            answer += chunk
        results.append(answer)


async def _in_thread(target: Callable[..., None], *args: object) -> None:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    for _ in range(int(TIMEOUT / 0.01)):
        if not thread.is_alive():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the client did not finish within the bound")


async def test_a_client_still_uploading_can_send_its_body_and_read_the_413(make_server: MakeServer) -> None:
    server = await make_server(build_app(), limits=Limits(linger_timeout=TIMEOUT))
    for _ in range(5):  # a reset is a race: try it a few times
        results: list[object] = []
        await _in_thread(_upload_over_the_limit, server.port, results)
        (result,) = results
        assert isinstance(result, bytes), f"the client's upload failed: {result!r}"
        assert result.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in result, result[:100]


@pytest.mark.parametrize(
    ("linger_timeout", "client_closes"),
    [
        pytest.param(60.0, True, id="the-client-closes"),  # long before the timeout could
        pytest.param(0.5, False, id="at-the-timeout"),  # a client that never closes
    ],
)
async def test_a_lingering_connection_ends_when_the_client_closes_or_at_the_timeout(
    make_server: MakeServer, linger_timeout: float, client_closes: bool
) -> None:
    server = await make_server(build_app(), limits=Limits(linger_timeout=linger_timeout))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nxyz" % BODY)
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)  # to the server's FIN
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert len(server._ctx.connections) == 1  # still reading what the client sends
        writer.write(b"more body, dropped")
        if client_closes:
            writer.close()
        await _let_go(server)  # within TIMEOUT: well below the 60 s linger
    finally:
        writer.close()


def _big_app(size: int) -> Application:
    big = b"b" * size

    async def large(request: Request) -> Response:
        return Response(body=big)

    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.05)
        return Response(text="slow")

    app = build_app()
    app.router.add_get("/big", large)
    app.router.add_get("/slow", slow)
    return app


async def _read_slowly(reader: asyncio.StreamReader) -> bytes:
    """Everything to the server's FIN, 256 KiB per 20 ms: a slow reader, never a stalled one."""
    data = bytearray()
    for _ in range(10_000):  # bounded: 2.5 GiB
        chunk = await asyncio.wait_for(reader.read(262144), TIMEOUT)
        if not chunk:
            return bytes(data)
        data += chunk
        await asyncio.sleep(0.02)
    raise AssertionError("no end")


# More than the kernel's socket buffers hold, and at 256 KiB per 20 ms about 2.5 s to
# read: longer than any timeout below.
BIG = 32 * 1024 * 1024


@pytest.mark.parametrize(
    ("request_bytes", "statuses"),
    [
        # The answer to a good request, then an error: the close lingers only once both are out.
        pytest.param(
            b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nBAD\x01 / HTTP/1.1\r\n\r\n", [200, 400], id="linger"
        ),
        # The last answer before a close: slow but steady is not "reads nothing".
        pytest.param(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", [200], id="close"),
    ],
)
async def test_a_slow_reader_gets_the_whole_answer_however_long_it_takes(
    make_server: MakeServer, request_bytes: bytes, statuses: list[int]
) -> None:
    server = await make_server(_big_app(BIG), limits=Limits(linger_timeout=0.3, send_timeout=1.0))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, limit=2**18)
    try:
        writer.write(request_bytes)
        data = await _read_slowly(reader)
    finally:
        writer.close()
    responses, rest = parse_responses(data)
    assert [r.status for r in responses] == statuses and not rest
    assert len(responses[0].body) == BIG


async def test_a_client_that_half_closed_first_is_not_lingered_on(make_server: MakeServer) -> None:
    """Its FIN came while the handler ran: nothing more will come, so close at once."""
    server = await make_server(_big_app(0), limits=Limits(linger_timeout=60.0))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        writer.write_eof()
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)
        assert answer.startswith(b"HTTP/1.1 200 OK")
        await _let_go(server)  # within TIMEOUT: well below the 60 s linger
    finally:
        writer.close()


async def _let_go(server: Server) -> None:
    """Wait (bounded by TIMEOUT) until the server holds no connection."""
    for _ in range(int(TIMEOUT / 0.01)):
        if not server._ctx.connections:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the server still holds {len(server._ctx.connections)} connection(s)")
