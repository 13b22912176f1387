"""A request that asks to upgrade is an ordinary request (RFC 9110 section 7.8).

We speak HTTP/1.1 only, so ``Upgrade`` is ignored: the request's body is read by
its framing and reaches the handler whole, the connection stays open, and what
the client sends after it is parsed as usual. The rows start from the exact bytes
``curl --http2`` sends (``Upgrade: h2c`` on every request, with ``HTTP2-Settings``).
Each is sent whole and one byte at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from service import Server

from .support import RawConnect, build_app, exchange, final

MakeServer = Callable[..., Awaitable[Server]]

CURL_HTTP2_HEAD = (
    b"Host: localhost:8080\r\n"
    b"User-Agent: curl/8.5.0\r\n"
    b"Accept: */*\r\n"
    b"Connection: Upgrade, HTTP2-Settings\r\n"
    b"Upgrade: h2c\r\n"
    b"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n"
)
BODY = b'{"name": "x"}'
# What `curl --http2 -d '{"name": "x"}' http://localhost:8080/echo` sends.
CURL_POST = (
    b"POST /echo HTTP/1.1\r\n"
    + CURL_HTTP2_HEAD
    + b"Content-Length: 13\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
    + BODY
)
CURL_GET = b"GET /ok HTTP/1.1\r\n" + CURL_HTTP2_HEAD + b"\r\n"
CHUNKED_POST = (
    b"POST /echo HTTP/1.1\r\n"
    + CURL_HTTP2_HEAD
    + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
)
WEBSOCKET_GET = (
    b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)
NEXT = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"


def row(ident: str, data: bytes, answers: list[tuple[int, bytes]]) -> Any:
    return pytest.param(data, answers, id=ident)


ROWS = [
    row("curl-http2-post", CURL_POST, [(200, BODY)]),
    row("curl-http2-post-then-a-request", CURL_POST + NEXT, [(200, BODY), (200, b"ok")]),
    row("curl-http2-get-then-a-request", CURL_GET + NEXT, [(200, b"ok"), (200, b"ok")]),
    row("chunked-body-with-a-trailer", CHUNKED_POST + NEXT, [(200, b"hello world"), (200, b"ok")]),
    row("two-upgrading-posts", CURL_POST + CURL_POST, [(200, BODY), (200, BODY)]),
    row("websocket-get", WEBSOCKET_GET + NEXT, [(200, b"ok"), (200, b"ok")]),
]


@pytest.mark.parametrize(("data", "answers"), ROWS)
async def test_an_upgrade_request_is_served_as_an_ordinary_one(
    make_server: MakeServer,
    raw_connect: RawConnect,
    bytewise: bool,
    data: bytes,
    answers: list[tuple[int, bytes]],
) -> None:
    server = await make_server(build_app())
    conn = await raw_connect(server.port)
    result = await exchange(conn, data, bytewise=bytewise, expect=len(answers))
    responses = final(result.responses())
    assert [(r.status, r.body) for r in responses] == answers, result.raw
    assert not result.closed and not responses[-1].closes, "the connection stays open"


async def test_a_malformed_request_after_an_upgrade_request_is_a_400(
    make_server: MakeServer, raw_connect: RawConnect, bytewise: bool
) -> None:
    server = await make_server(build_app())
    conn = await raw_connect(server.port)
    result = await exchange(conn, CURL_POST + b"NOT HTTP AT ALL\r\n\r\n", bytewise=bytewise, expect=2)
    responses = final(result.responses())
    assert [(r.status, r.body) for r in responses][:1] == [(200, BODY)]
    assert [r.status for r in responses][1:] == [400], result.raw
    assert result.closed


async def test_a_body_that_follows_its_upgrading_head_in_a_later_read_is_read(
    make_server: MakeServer, raw_connect: RawConnect
) -> None:
    server = await make_server(build_app())
    conn = await raw_connect(server.port)
    head, body = CURL_POST[: -len(BODY)], BODY
    conn.writer.write(head)
    await conn.writer.drain()
    result = await exchange(conn, body + NEXT, bytewise=False, expect=2)
    assert [(r.status, r.body) for r in final(result.responses())] == [(200, BODY), (200, b"ok")]
