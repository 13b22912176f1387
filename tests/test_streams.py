"""``request.content``: every StreamReader method, flow control, limits and decoding.

Each reading method is one row: a handler reads the body with it and answers what it
got, as JSON, through a real server; the body is sent with ``Content-Length`` and
chunked, each whole and one byte at a time. Flow control, the 1 GiB upload and the
decompression bomb measure what the server holds (tracemalloc), never how fast.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import brotli  # type: ignore[import-untyped, unused-ignore]  # the brotli extra (in the test extra)
import pytest

from service import Application, Limits, Request, Response, Server, json_response
from service.web.request import HIGH_WATER

TIMEOUT = 10.0  # bound on every network wait; never a timing assertion

MakeServer = Callable[..., Awaitable[Server]]
Reader = Callable[[Request], Awaitable[Any]]

BODY = b"first line\nsecond\n\nlast, no newline"


async def _read_n(request: Request) -> Any:
    pieces = []
    while piece := await request.content.read(4):
        pieces.append(piece.decode())
    return ["".join(pieces), all(0 < len(p) <= 4 for p in pieces)]


async def _lines(request: Request) -> Any:
    return [line.decode() async for line in request.content]


async def _readline(request: Request) -> Any:
    lines = []
    while line := await request.content.readline():
        lines.append(line.decode())
    return lines


async def _exactly(request: Request) -> Any:
    first = await request.content.readexactly(5)
    try:
        await request.content.readexactly(1000)
    except asyncio.IncompleteReadError as exc:
        return [first.decode(), exc.partial.decode(), exc.expected]
    return "no IncompleteReadError"


async def _chunked(request: Request) -> Any:
    pieces = [piece.decode() async for piece in request.content.iter_chunked(3)]
    return ["".join(pieces), all(0 < len(p) <= 3 for p in pieces)]


async def _any(request: Request) -> Any:
    return b"".join([piece async for piece in request.content.iter_any()]).decode()


async def _chunks(request: Request) -> Any:
    pairs = [pair async for pair in request.content.iter_chunks()]
    return [b"".join(p for p, _ in pairs).decode(), any(flag for _, flag in pairs)]


async def _readchunk(request: Request) -> Any:
    data = b""
    while True:
        piece, _ = await request.content.readchunk()
        if not piece:
            return data.decode()
        data += piece


async def _readany(request: Request) -> Any:
    data = b""
    while piece := await request.content.readany():
        data += piece
    return [data.decode(), request.content.at_eof(), request.can_read_body]


async def _until(request: Request) -> Any:
    return [(await request.content.readuntil(b"\n\n")).decode(), (await request.content.read()).decode()]


async def _crlf(request: Request) -> Any:
    """A two-byte separator, split across pieces when the body comes in 5-byte chunks."""
    lines = []
    while line := await request.content.readuntil(b"\r\n"):
        lines.append(line.decode())
    return lines


async def _read_then_stream(request: Request) -> Any:
    whole = await request.read()
    return [whole == BODY, (await request.content.read()).decode(), request.content.at_eof()]


async def _eof(request: Request) -> Any:
    before = request.content.at_eof()
    rest = await request.content.read()
    return [
        before,
        len(rest),
        request.content.at_eof(),
        (await request.content.read()).decode(),
        request.content.is_eof(),
    ]


async def _stream_then_read(request: Request) -> Any:
    head = await request.content.readexactly(6)
    return [head.decode(), (await request.read()).decode(), (await request.text())]


READERS: dict[str, tuple[Reader, Any]] = {
    "read(4)": (_read_n, [BODY.decode(), True]),
    "async-for": (_lines, ["first line\n", "second\n", "\n", "last, no newline"]),
    "readline": (_readline, ["first line\n", "second\n", "\n", "last, no newline"]),
    "readexactly": (_exactly, ["first", BODY[5:].decode(), 1000]),
    "iter_chunked": (_chunked, [BODY.decode(), True]),
    "iter_any": (_any, BODY.decode()),
    "iter_chunks": (_chunks, [BODY.decode(), False]),
    "readchunk": (_readchunk, BODY.decode()),
    "readany": (_readany, [BODY.decode(), True, False]),
    "readuntil": (_until, ["first line\nsecond\n\n", "last, no newline"]),
    "read-then-stream": (_read_then_stream, [True, BODY.decode(), True]),
    "at_eof": (_eof, [False, len(BODY), True, "", True]),
    "stream-then-read": (_stream_then_read, ["first ", BODY[6:].decode(), BODY[6:].decode()]),
}


def reading_app(readers: dict[str, Reader], client_max_size: int | None = 1024**2) -> Application:
    app = Application(client_max_size=client_max_size)
    for name, reader in readers.items():

        async def handler(request: Request, reader: Reader = reader) -> Response:
            return json_response(await reader(request))

        app.router.add_post("/" + name, handler)
    return app


def post(path: str, body: bytes, *, chunked: bool, fields: bytes = b"") -> bytes:
    head = b"POST /" + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + fields
    if not chunked:
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    # Chunks of 5 bytes, so readers see the body in several pieces even sent whole.
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 5]), body[i : i + 5]) for i in range(0, len(body), 5)
    )
    return head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


async def send(conn: Any, data: bytes, bytewise: bool) -> None:
    if not bytewise:
        conn.writer.write(data)
        return
    for i in range(len(data)):
        conn.writer.write(data[i : i + 1])
        await conn.writer.drain()
        await asyncio.sleep(0)


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
async def test_a_separator_split_across_pieces_is_found(
    make_server: MakeServer, raw_connect: Any, bytewise: bool
) -> None:
    server = await make_server(reading_app({"crlf": _crlf}))
    conn = await raw_connect(server.port)
    # Chunks of 5 bytes: "abcd\r" | "\nefgh" | "\r\nij" -- the first CRLF is cut in two.
    await send(conn, post("crlf", b"abcd\r\nefgh\r\nij", chunked=True), bytewise)
    response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
    assert json.loads(response.body) == ["abcd\r\n", "efgh\r\n", "ij"]


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize("name", list(READERS))
async def test_each_stream_method_reads_the_body(
    make_server: MakeServer, raw_connect: Any, name: str, chunked: bool, bytewise: bool
) -> None:
    reader, expected = READERS[name]
    server = await make_server(reading_app({name: reader}))
    conn = await raw_connect(server.port)
    # Twice on one connection: the stream leaves the connection ready for the next request.
    for _ in range(2):
        await send(conn, post(name, BODY, chunked=chunked), bytewise)
        response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
        assert response.status == 200, response.body
        assert json.loads(response.body) == expected


async def test_expect_100_continue_is_sent_when_the_stream_is_first_read(
    make_server: MakeServer, raw_connect: Any
) -> None:
    server = await make_server(reading_app({"any": _any}))
    conn = await raw_connect(server.port)
    conn.writer.write(b"POST /any HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    interim = await asyncio.wait_for(conn.read_response(), TIMEOUT)
    assert interim.status == 100
    conn.writer.write(b"hello")
    response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
    assert json.loads(response.body) == "hello"


# -- client_max_size: whole reads only -------------------------------------------------------------
async def _count(request: Request) -> Any:
    size = 0
    async for piece in request.content.iter_chunked(64 * 1024):
        size += len(piece)
    return size


async def _whole(request: Request) -> Any:
    return len(await request.read())


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
async def test_client_max_size_limits_whole_reads_not_streams(
    make_server: MakeServer, raw_connect: Any, chunked: bool
) -> None:
    server = await make_server(reading_app({"count": _count, "whole": _whole}, client_max_size=100))
    body = b"x" * 5000
    conn = await raw_connect(server.port)
    conn.writer.write(post("count", body, chunked=chunked))
    response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
    assert (response.status, json.loads(response.body)) == (200, 5000)

    conn.writer.write(post("whole", body, chunked=chunked))
    response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
    assert response.status == 413
    assert response.header("Connection") == "close"


# -- flow control ------------------------------------------------------------------------------------
async def test_reading_pauses_while_the_handler_does_not_read(make_server: MakeServer) -> None:
    """A handler that waits before reading: the server stops reading the socket at the
    high-water mark, so what it holds stays bounded however much the client sends."""
    total = 32 * 1024**2
    go = asyncio.Event()
    seen: list[int] = []

    async def slow(request: Request) -> Response:
        await go.wait()
        seen.append(request.body_size)  # received so far, while the client was blocked
        return json_response(await _count(request))

    app = Application()
    app.router.add_post("/slow", slow)
    server = await make_server(app)
    sent = [0]
    client = threading.Thread(target=_upload, args=(server.port, "/slow", total, sent), daemon=True)
    client.start()
    await _until_stalled(sent)
    go.set()
    await asyncio.to_thread(client.join, 60)
    assert not client.is_alive()
    assert sent[0] == total and sent[1:] == [b"200", str(total).encode()]
    # Held while paused: the high-water mark, plus what one read can bring past it.
    assert seen[0] <= HIGH_WATER + 512 * 1024, f"{seen[0]} bytes read while nobody read them"


def _upload(port: int, path: str, total: int, sent: list[Any], coding: bytes = b"") -> None:
    """Send a ``total``-byte body of zeros (blocking, in a thread); record the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        head = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n" % (path.encode(), total, coding)
        sock.sendall(head)
        block = memoryview(bytes(1024**2))
        while sent[0] < total:
            n = min(len(block), total - sent[0])
            sock.sendall(block[:n])
            sent[0] += n
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536) or b"\r\n\r\n"
        head, _, body = answer.partition(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        while len(body) < length and (piece := sock.recv(65536)):
            body += piece
        sent.extend([head.split(b" ", 2)[1], body])


async def _until_stalled(sent: list[Any]) -> None:
    """Wait (bounded) until the uploading client has been blocked for a while."""
    last, still = -1, 0
    for _ in range(200):  # at most 10 s
        await asyncio.sleep(0.05)
        still = still + 1 if sent[0] == last else 0
        last = sent[0]
        if still >= 6:
            return
    pytest.fail("the client never blocked: the server read everything it sent")


async def test_a_1_gib_upload_read_as_a_stream_keeps_memory_flat(make_server: MakeServer) -> None:
    total = 1024**3
    app = Application()
    app.router.add_post("/count", lambda request: _answer_count(request))
    server = await make_server(app)
    sent: list[Any] = [0]
    tracemalloc.start()
    try:
        client = threading.Thread(target=_upload, args=(server.port, "/count", total, sent), daemon=True)
        client.start()
        while client.is_alive():
            await asyncio.sleep(0.05)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sent[1:] == [b"200", str(total).encode()]
    # The client's own 1 MiB block is traced too; the server holds two buffers of about
    # HIGH_WATER each at most.
    assert peak < 8 * 1024**2, f"peak {peak} bytes traced while 1 GiB went through"


async def _answer_count(request: Request) -> Response:
    return json_response(await _count(request))


# -- Content-Encoding ----------------------------------------------------------------------------------
def _deflate(data: bytes, wbits: int) -> bytes:
    obj = zlib.compressobj(wbits=wbits)
    return obj.compress(data) + obj.flush()


PAYLOAD = json.dumps({"name": "x" * 3000}).encode()
CODINGS = [
    pytest.param(b"gzip", gzip.compress(PAYLOAD), 200, id="gzip"),
    pytest.param(b"x-gzip", gzip.compress(PAYLOAD), 200, id="x-gzip"),
    pytest.param(b"deflate", _deflate(PAYLOAD, zlib.MAX_WBITS), 200, id="deflate-zlib"),
    pytest.param(b"deflate", _deflate(PAYLOAD, -zlib.MAX_WBITS), 200, id="deflate-raw"),
    pytest.param(b"identity", PAYLOAD, 200, id="identity"),
    pytest.param(b"deflate, gzip", gzip.compress(_deflate(PAYLOAD, zlib.MAX_WBITS)), 200, id="two-codings"),
    pytest.param(b"br", brotli.compress(PAYLOAD), 200, id="br"),
    pytest.param(b"gzip, br", brotli.compress(gzip.compress(PAYLOAD)), 200, id="gzip-then-br"),
    pytest.param(b"compress", PAYLOAD, 415, id="unknown"),
    pytest.param(b"gzip", b"not gzip at all", 400, id="corrupt"),
    pytest.param(b"gzip", gzip.compress(PAYLOAD)[:-30], 400, id="truncated"),
]


async def _json_name(request: Request) -> Any:
    return len((await request.json())["name"])


@pytest.mark.parametrize(("coding", "body", "status"), CODINGS)
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
async def test_request_bodies_are_decoded(
    make_server: MakeServer, raw_connect: Any, coding: bytes, body: bytes, status: int, chunked: bool
) -> None:
    server = await make_server(reading_app({"json": _json_name, "stream": _any}))
    conn = await raw_connect(server.port)
    fields = b"Content-Encoding: " + coding + b"\r\n"
    conn.writer.write(post("json", body, chunked=chunked, fields=fields))
    response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
    assert response.status == status, response.body
    if status == 200:
        assert json.loads(response.body) == 3000
        conn.writer.write(post("stream", body, chunked=chunked, fields=fields))
        response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
        assert json.loads(response.body) == PAYLOAD.decode()


def _bomb() -> bytes:
    """1 GiB of zeros, gzipped twice (``Content-Encoding: gzip, gzip``): a few KiB."""
    inner = zlib.compressobj(9, wbits=31)
    outer = zlib.compressobj(9, wbits=31)
    block = bytes(1024**2)
    parts = [outer.compress(inner.compress(block)) for _ in range(1024)]
    parts.append(outer.compress(inner.flush()) + outer.flush())
    return b"".join(parts)


def _br_bomb() -> bytes:
    """1 GiB of zeros in brotli (``Content-Encoding: br``): about a KiB."""
    obj = brotli.Compressor(quality=5)
    block = bytes(1024**2)
    return b"".join([obj.process(block) for _ in range(1024)]) + obj.finish()


BOMBS = {"gzip, gzip": _bomb, "br": _br_bomb}


@pytest.mark.parametrize("coding", list(BOMBS))
async def test_a_decompression_bomb_is_413_at_the_limit(
    make_server: MakeServer, raw_connect: Any, coding: str
) -> None:
    bomb = BOMBS[coding]()
    assert len(bomb) < 20 * 1024
    ran: list[str] = []

    async def whole(request: Request) -> Response:
        ran.append("whole")
        await request.read()
        return Response(text="read it all?")

    app = Application()  # client_max_size: 1 MiB
    app.router.add_post("/whole", whole)
    server = await make_server(app)
    conn = await raw_connect(server.port)
    tracemalloc.start()
    try:
        conn.writer.write(
            post("whole", bomb, chunked=False, fields=b"Content-Encoding: %s\r\n" % coding.encode())
        )
        response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (response.status, ran) == (413, ["whole"])
    assert peak < 8 * 1024**2, f"peak {peak} bytes traced for a 1 MiB limit"


async def test_a_handler_busy_between_reads_is_not_timed_out(
    make_server: MakeServer, raw_connect: Any
) -> None:
    """body_timeout bounds a reader's wait for bytes, not the handler's work between reads."""

    async def slow_reader(request: Request) -> Response:
        first = await request.content.read(5)
        await asyncio.sleep(0.6)  # work, twice body_timeout
        return Response(body=first + await request.content.read())

    app = Application()
    app.router.add_post("/slow", slow_reader)
    server = await make_server(app, limits=Limits(body_timeout=0.3))
    conn = await raw_connect(server.port)
    conn.writer.write(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
    await asyncio.sleep(0.1)  # the handler waits for its first bytes: the body timer runs
    conn.writer.write(b"01234")
    await asyncio.sleep(0.4)  # the handler is at work; the timer, stopped when they came, is not
    conn.writer.write(b"56789")
    response = await asyncio.wait_for(conn.read_response(), TIMEOUT)
    assert (response.status, response.body) == (200, b"0123456789")
