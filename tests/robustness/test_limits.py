"""Limits at their edges, against a real server with small limits.

Exactly at a limit is served (200); one byte (or one field) over is answered with the
status the README's "Limits and security" table documents, and the connection is
closed. Each case is sent whole and one byte at a time. The timeouts are limits too:
a head or a body that stalls is answered 408 and closed, and an idle keep-alive
connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from service import Limits, Server

from .support import RawConnect, assert_alive, assert_rejected, build_app, exchange, final, short_timeouts

MakeServer = Callable[..., Awaitable[Server]]

MAX_TARGET = 64
MAX_HEADER = 128
MAX_COUNT = 4
MAX_BODY = 16
LIMITS = short_timeouts(max_target_size=MAX_TARGET, max_header_size=MAX_HEADER, max_header_count=MAX_COUNT)
HOST = b"Host: x"  # 4 + 1 bytes of name + value, and one field


def target_of(size: int) -> bytes:
    target = b"/ok?q=" + b"x" * (size - 6)
    assert len(target) == size
    return target


def fields_of(size: int, host_counted: bool = True) -> list[bytes]:
    """One filler field so that name + value bytes (with Host's, if counted) sum to ``size``."""
    value = b"v" * (size - len(b"X-Fill") - (len(b"Host") + len(b"x") if host_counted else 0))
    return [b"X-Fill: " + value]


def fields_count(count: int) -> list[bytes]:
    """Fields that with Host make ``count`` fields."""
    return [b"X-%d: 1" % i for i in range(count - 1)]


def get(target: bytes = b"/ok", fields: list[bytes] | None = None) -> bytes:
    return b"\r\n".join([b"GET " + target + b" HTTP/1.1", HOST, *(fields or [])]) + b"\r\n\r\n"


def post(body: bytes) -> bytes:
    return b"POST /echo HTTP/1.1\r\n" + HOST + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def chunked(*chunks: bytes, trailers: list[bytes] | None = None) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n"
    body += b"".join(t + b"\r\n" for t in trailers or []) + b"\r\n"
    return b"POST /echo HTTP/1.1\r\n" + HOST + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + body


def chunked_with_extensions(count: int, extension: int, *, end: bool = True) -> bytes:
    """``count`` one-byte chunks, each with an ``extension``-byte chunk extension."""
    chunk = b"1;x=" + b"e" * (extension - 4) + b"\r\nc\r\n"
    head = b"POST /echo HTTP/1.1\r\n" + HOST + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head + chunk * count + (b"0\r\n\r\n" if end else b"")


def edge(ident: str, at_limit: bytes, body: bytes, over: bytes, status: int, why: str, *, runs: bool) -> Any:
    """``runs``: whether the handler runs for ``over`` (a refusal at the head: never)."""
    return pytest.param(at_limit, body, over, status, runs, why, id=ident)


EDGES = [
    edge(
        "target",
        get(target_of(MAX_TARGET)),
        b"ok",
        get(target_of(MAX_TARGET + 1)),
        414,
        "request target over max_target_size",
        runs=False,
    ),
    edge(
        "header-bytes",
        get(fields=fields_of(MAX_HEADER)),
        b"ok",
        get(fields=fields_of(MAX_HEADER + 1)),
        431,
        "names + values of all fields over max_header_size",
        runs=False,
    ),
    edge(
        "header-count",
        get(fields=fields_count(MAX_COUNT)),
        b"ok",
        get(fields=fields_count(MAX_COUNT + 1)),
        431,
        "more fields than max_header_count",
        runs=False,
    ),
    edge(
        "body-content-length",
        post(b"b" * MAX_BODY),
        b"b" * MAX_BODY,
        post(b"b" * (MAX_BODY + 1)),
        413,
        "a declared body over client_max_size, refused by request.read() before it is read"
        " (the handler runs: it could stream the body, to which the limit does not apply)",
        runs=True,
    ),
    edge(
        "body-chunked",
        chunked(b"a" * 8, b"b" * 8),
        b"a" * 8 + b"b" * 8,
        chunked(b"a" * 8, b"b" * 9),
        413,
        "a chunked body that grows over client_max_size, refused from request.read()",
        runs=True,
    ),
    edge(
        "body-chunked-one-chunk",
        chunked(b"c" * MAX_BODY),
        b"c" * MAX_BODY,
        chunked(b"c" * (MAX_BODY + 1)),
        413,
        "one chunk over client_max_size",
        runs=True,
    ),
    edge(
        "chunk-framing",
        chunked_with_extensions(MAX_BODY, 900),
        b"c" * MAX_BODY,
        chunked_with_extensions(MAX_BODY, 1500, end=False),
        413,
        "a body still arriving whose sizes, extensions and line ends pass Limits.max_framing_bytes"
        " (16 KiB + 8 per body byte): many small extensions add up like one big one (CVE-2024-22019)."
        " The bound is checked after each read, so its edge is a range: 15 KiB passes, 24 KiB fails",
        runs=True,
    ),
    edge(
        "trailer-bytes",
        chunked(b"hello", trailers=fields_of(MAX_HEADER, host_counted=False)),
        b"hello",
        chunked(b"hello", trailers=fields_of(MAX_HEADER + 1, host_counted=False)),
        431,
        "the trailer section is a field section too: over max_header_size (RFC 9112 7.1.2)",
        runs=True,
    ),
    edge(
        "trailer-count",
        chunked(b"hello", trailers=[b"X-T%d: 1" % i for i in range(MAX_COUNT)]),
        b"hello",
        chunked(b"hello", trailers=[b"X-T%d: 1" % i for i in range(MAX_COUNT + 1)]),
        431,
        "more trailer fields than max_header_count",
        runs=True,
    ),
]


@pytest.mark.parametrize(("at_limit", "body", "over", "status", "runs", "why"), EDGES)
async def test_at_the_limit_passes_and_one_over_fails(
    make_server: MakeServer,
    raw_connect: RawConnect,
    bytewise: bool,
    at_limit: bytes,
    body: bytes,
    over: bytes,
    status: int,
    runs: bool,
    why: str,
) -> None:
    calls: list[str] = []
    server = await make_server(build_app(client_max_size=MAX_BODY, calls=calls), limits=LIMITS)

    conn = await raw_connect(server.port)
    result = await exchange(conn, at_limit, bytewise=bytewise)
    responses = final(result.responses())
    assert [(r.status, r.body) for r in responses] == [(200, body)], f"at the limit: {result.raw!r}"
    assert not result.closed and not responses[0].closes, "at the limit, the connection stays open"

    calls.clear()
    conn = await raw_connect(server.port)
    result = await exchange(conn, over, bytewise=bytewise)
    assert_rejected(result, (status,), (), why)
    assert len(calls) == runs, f"{why}: the handler {'ran' if calls else 'never ran'}"
    await assert_alive(raw_connect, server.port)


CHUNKED_HEAD = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
EXPECT_HEAD = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"


def past(
    ident: str,
    limits: Limits,
    data: bytes,
    status: int | tuple[int, ...],
    why: str,
    *,
    runs: bool,
    never: bytes = b"",
) -> Any:
    """``runs``: whether the handler runs (a refusal at the head: never)."""
    statuses = status if isinstance(status, tuple) else (status,)
    return pytest.param(limits, data, statuses, never, runs, why, id=ident)


# Limits with no "exactly at" counterpart: what is sent, the answer, and what must never
# be sent. The app's client_max_size is MAX_BODY throughout.
PAST_A_LIMIT = [
    past(
        "expect-continue-over-the-body-limit",
        LIMITS,
        EXPECT_HEAD % (MAX_BODY + 1),
        413,
        "a declared body over the limit is refused by read() without a 100 Continue",
        never=b"100 Continue",
        runs=True,
    ),
    # Optional whitespace is not part of a field value, so only the raw-bytes guard
    # (Limits.max_head_bytes) sees it; the head never ends, so nothing else can stop it.
    past(
        "head-padded-with-whitespace",
        LIMITS,
        b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Pad: " + b" " * LIMITS.max_head_bytes,
        431,
        "a head over max_head_bytes of raw bytes",
        runs=False,
    ),
    past(
        "stalled-head",
        Limits(header_timeout=0.3),
        b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: aa",
        408,
        "a head not received whole within header_timeout",
        runs=False,
    ),
    # The trailer section far over the default limits (the edges are in EDGES above).
    past(
        "trailer-far-too-large",
        short_timeouts(),
        CHUNKED_HEAD + b"5\r\nhello\r\n0\r\nX-T: " + b"a" * 20000 + b"\r\n\r\n",
        (431, 400, 413),
        "a 20 000-byte trailer field: over max_header_size (8192) like a header field would be",
        runs=True,
    ),
    past(
        "trailer-far-too-many",
        short_timeouts(),
        CHUNKED_HEAD + b"5\r\nhello\r\n0\r\n" + b"X-T: a\r\n" * 200 + b"\r\n",
        (431, 400, 413),
        "200 trailer fields: over max_header_count (100) like header fields would be",
        runs=True,
    ),
    past(
        "declared-body-never-sent",
        LIMITS,
        b"POST /echo HTTP/1.1\r\n" + HOST + b"\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1),
        413,
        "a declared body over client_max_size is refused by read() at once, without waiting for the body",
        runs=True,
    ),
    past(
        "stalled-body",
        Limits(body_timeout=0.3),
        b"POST /echo HTTP/1.1\r\n" + HOST + b"\r\nContent-Length: 10\r\n\r\nabc",
        408,
        "a body not received whole within body_timeout: its handler does not wait in read() forever",
        runs=True,
    ),
    # llhttp does not tell the chunk sizes it reads, so a declared size is not judged by
    # itself: the body is bounded as its bytes arrive (and a stalled one by body_timeout).
    past(
        "huge-declared-chunk",
        LIMITS,
        CHUNKED_HEAD + b"ffffffffffffffff\r\n" + b"c" * (MAX_BODY + 1),
        413,
        "a chunk of 2**64-1 bytes, over client_max_size as it arrives",
        runs=True,
    ),
]


@pytest.mark.parametrize(("limits", "data", "statuses", "never", "runs", "why"), PAST_A_LIMIT)
async def test_past_a_limit_is_refused(
    make_server: MakeServer,
    raw_connect: RawConnect,
    bytewise: bool,
    limits: Limits,
    data: bytes,
    statuses: tuple[int, ...],
    never: bytes,
    runs: bool,
    why: str,
) -> None:
    calls: list[str] = []
    server = await make_server(build_app(client_max_size=MAX_BODY, calls=calls), limits=limits)
    conn = await raw_connect(server.port)
    result = await exchange(conn, data, bytewise=bytewise)
    assert not never or never not in result.raw, f"{why}: {never!r} was sent"
    assert_rejected(result, statuses, (), why)
    assert len(calls) == runs, f"{why}: the handler {'ran' if calls else 'never ran'}"
    await assert_alive(raw_connect, server.port)


async def test_a_next_head_begun_in_the_read_that_ended_a_request_is_timed_too(
    make_server: MakeServer, raw_connect: RawConnect
) -> None:
    # Sent whole: the start of the second head arrives with the end of the first request,
    # and must be held to header_timeout, not to the (here much longer) keep-alive timeout.
    server = await make_server(build_app(), limits=Limits(header_timeout=0.3, keepalive_timeout=60.0))
    conn = await raw_connect(server.port)
    ok = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
    result = await exchange(conn, ok + b"GET /ok HT", bytewise=False, expect=2)
    assert_rejected(result, (408,), (200,), "the second head never ends: 408 at header_timeout")


@pytest.mark.parametrize(
    "partial",
    [b"\r\n", b"G", b"GET /ok HT", b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: aaa"],
    ids=["blank-line", "method", "line", "fields"],
)
async def test_a_head_stalled_on_a_kept_alive_connection_is_408(
    make_server: MakeServer, raw_connect: RawConnect, partial: bytes
) -> None:
    # After an answer, a begun head is held to header_timeout, not to the keep-alive timeout.
    # Blank lines begin no message (llhttp skips them), yet they keep a connection as
    # surely as half a method: both are held to the header timeout.
    calls: list[str] = []
    limits = Limits(header_timeout=0.5, keepalive_timeout=60)
    server = await make_server(build_app(calls=calls), limits=limits)
    conn = await raw_connect(server.port)
    await conn.send(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await conn.read_response()).status == 200
    await conn.send(partial)  # and then nothing
    data = await conn.read_until_close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert b"\r\nConnection: close\r\n" in data
    assert calls == ["/ok"]  # the stalled request's handler never ran


async def test_a_trickled_head_is_408_at_the_header_timeout(
    make_server: MakeServer, raw_connect: RawConnect
) -> None:
    # Each byte comes in time, but the head as a whole does not: the timeout is for the head.
    server = await make_server(build_app(), limits=Limits(header_timeout=0.5))
    conn = await raw_connect(server.port)
    head = b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 400

    async def trickle() -> None:
        # Far slower than the timeout allows; stops when the server hangs up.
        with contextlib.suppress(OSError):
            for i in range(len(head)):
                conn.writer.write(head[i : i + 1])
                await conn.writer.drain()
                await asyncio.sleep(0.05)

    sender = asyncio.create_task(trickle())
    try:
        data = await conn.read_until_close()
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
    assert data.startswith(b"HTTP/1.1 408 ")
    assert b"\r\nConnection: close\r\n" in data


async def test_an_idle_keep_alive_connection_is_closed(
    make_server: MakeServer, raw_connect: RawConnect
) -> None:
    server = await make_server(build_app(), limits=Limits(keepalive_timeout=0.3))
    conn = await raw_connect(server.port)
    await conn.send(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
    response = await conn.read_response()
    assert response.status == 200
    assert response.header("Connection") is None  # kept alive...
    assert await conn.at_eof()  # ...until it idled out
    for _ in range(100):
        if server.connections == 0:
            break
        await asyncio.sleep(0.01)
    assert server.connections == 0
