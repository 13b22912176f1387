"""Response bodies that are not bytes, chunked encoding, validators, and bodyless statuses.

Bodies are checked through a real server (raw sockets, exact framing); the
properties and the renderer directly.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import RawConnection, RawResponse

from service import Application, Request, Server, web
from service.web.bodies import StreamedBodyResponse
from service.web.conditional import ETag
from service.web.response import Response, StreamResponse, render

MakeServer = Callable[..., Awaitable[Server]]
Connect = Callable[[int], Awaitable[RawConnection]]
Handler = Callable[[Request], Awaitable[web.StreamResponse]]

BIG = os.urandom(3 * 1024 * 1024 + 7)
DATE = "Sun, 06 Nov 1994 08:49:37 GMT"


async def serve_one(
    make_server: MakeServer, raw_connect: Connect, handler: Handler, request: bytes = b""
) -> RawResponse:
    """``handler`` at ``/``, asked once (GET over HTTP/1.1 unless ``request`` says otherwise)."""
    app = Application()
    app.add_routes([web.route("*", "/", handler)])
    server = await make_server(app)
    conn = await raw_connect(server.port)
    await conn.send(request or b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    return await conn.read_response(head_only=request.startswith(b"HEAD"))


async def gen(parts: list[bytes], log: list[str]) -> AsyncIterator[bytes]:
    try:
        for part in parts:
            log.append("yield")
            yield part
    finally:
        log.append("closed")


@pytest.mark.parametrize(
    ("make", "body", "framing", "content_type"),
    [
        (lambda p: io.BytesIO(b"hello"), b"hello", "length", "application/octet-stream"),
        (lambda p: _seeked(io.BytesIO(b"hello"), 2), b"llo", "length", "application/octet-stream"),
        (lambda p: _opened(p / "x.json"), b'{"a": 1}', "length", "application/json"),
        (lambda p: _opened(p / "big.bin"), BIG, "length", "application/octet-stream"),
        (lambda p: _pipe(b"from a pipe"), b"from a pipe", "chunked", "application/octet-stream"),
        (lambda p: memoryview(b"view"), b"view", "length", "application/octet-stream"),
    ],
    ids=["bytesio", "bytesio-from-position", "named-file", "big-file", "pipe", "memoryview"],
)
async def test_file_bodies(
    tmp_path: Path,
    make_server: MakeServer,
    raw_connect: Connect,
    make: Callable[[Path], Any],
    body: bytes,
    framing: str,
    content_type: str,
) -> None:
    (tmp_path / "x.json").write_bytes(b'{"a": 1}')
    (tmp_path / "big.bin").write_bytes(BIG)
    given: list[Any] = []

    async def handler(request: Request) -> web.StreamResponse:
        given.append(make(tmp_path))
        return web.Response(body=given[0])

    response = await serve_one(make_server, raw_connect, handler)
    assert (response.status, len(response.body), response.body == body) == (200, len(body), True)
    assert response.chunked == (framing == "chunked")
    assert response.header("Content-Length") == (str(len(body)) if framing == "length" else None)
    assert response.header("Content-Type") == content_type
    if hasattr(given[0], "fileno") and not isinstance(given[0], io.BytesIO):
        for _ in range(200):  # bounded: the client can have it all before the server is done
            if given[0].closed:
                break
            await asyncio.sleep(0.01)
        assert given[0].closed  # an operating system's file is closed once sent


def _seeked(file: io.BytesIO, offset: int) -> io.BytesIO:
    file.seek(offset)
    return file


def _opened(path: Path) -> io.BufferedReader:
    return open(path, "rb")  # noqa: SIM115  (the response closes it: the test checks it does)


def _pipe(data: bytes) -> io.BufferedReader:
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    return open(read, "rb")


async def test_an_async_iterable_body_is_sent_in_chunks_and_closed(
    make_server: MakeServer, raw_connect: Connect
) -> None:
    log: list[str] = []

    async def handler(request: Request) -> web.StreamResponse:
        return web.Response(body=gen([b"one ", b"", b"two"], log), content_type="text/plain")

    response = await serve_one(make_server, raw_connect, handler)
    assert (response.status, response.body, response.chunked) == (200, b"one two", True)
    assert response.header("Content-Type") == "text/plain"
    assert log == ["yield", "yield", "yield", "closed"]


async def test_an_async_iterable_to_an_http10_client_ends_with_the_connection(
    make_server: MakeServer, raw_connect: Connect
) -> None:
    async def handler(request: Request) -> web.StreamResponse:
        return web.Response(body=gen([b"a", b"b"], []))

    response = await serve_one(make_server, raw_connect, handler, b"GET / HTTP/1.0\r\n\r\n")
    assert (response.body, response.chunked, response.header("Connection")) == (b"ab", False, "close")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", 200), (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 204)],
    ids=["head", "204"],
)
async def test_a_body_that_is_not_sent_is_not_read(
    make_server: MakeServer, raw_connect: Connect, request_bytes: bytes, status: int
) -> None:
    log: list[str] = []

    async def handler(request: Request) -> web.StreamResponse:
        return web.Response(body=gen([b"a"], log), status=status)

    response = await serve_one(make_server, raw_connect, handler, request_bytes)
    assert (response.status, response.body) == (status, b"")
    assert log == ["closed"] or log == []  # never iterated (an unstarted generator has no finally)


def test_body_kinds_and_the_class_they_make() -> None:
    assert type(Response(body=b"x")) is Response  # bytes: the whole-body path, untouched
    assert type(Response(body=memoryview(b"x"))) is Response
    streamed = Response(body=io.BytesIO(b"x"))
    assert isinstance(streamed, StreamedBodyResponse) and isinstance(streamed, StreamResponse)
    assert streamed.content_type == "application/octet-stream"
    streamed.body = b"back to bytes"  # a bytes body makes it a Response again
    assert type(streamed) is Response and streamed.body == b"back to bytes"
    response = Response(text="hi")
    response.body = io.BytesIO(b"x")  # and the setter streams too (keeping the type it had)
    assert isinstance(response, StreamedBodyResponse) and response.content_type == "text/plain"


@pytest.mark.parametrize("body", [42, [b"a"], io.StringIO("text")], ids=["int", "list", "text-file"])
def test_what_cannot_be_a_body(body: object) -> None:
    with pytest.raises(TypeError):
        Response(body=body)  # type: ignore[arg-type]


# -- chunked encoding ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("request_bytes", "chunked"),
    [(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True), (b"GET / HTTP/1.0\r\n\r\n", False)],
    ids=["http11", "http10-cannot-read-chunks"],
)
async def test_enable_chunked_encoding(
    make_server: MakeServer, raw_connect: Connect, request_bytes: bytes, chunked: bool
) -> None:
    async def handler(request: Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        assert response.chunked
        await response.prepare(request)
        await response.write(b"pieces")
        return response

    response = await serve_one(make_server, raw_connect, handler, request_bytes)
    assert (response.body, response.chunked) == (b"pieces", chunked)


def test_chunked_encoding_and_a_content_length_exclude_each_other() -> None:
    response = StreamResponse()
    response.content_length = 3
    with pytest.raises(RuntimeError):
        response.enable_chunked_encoding()
    with pytest.raises(RuntimeError):
        StreamResponse(headers={"Content-Length": "3"}).enable_chunked_encoding()
    chunked = StreamResponse()
    chunked.enable_chunked_encoding()
    with pytest.raises(RuntimeError):
        chunked.content_length = 3


def test_a_whole_response_keeps_its_content_length_when_asked_for_chunks() -> None:
    response = Response(text="whole")
    response.enable_chunked_encoding()
    raw = render(response, True, False, False)
    assert b"Content-Length: 5\r\n" in raw and b"chunked" not in raw


# -- validators ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "field"),
    [
        (784111777, DATE),
        (784111776.2, DATE),  # fractions round up
        (datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC), DATE),
        (datetime(1994, 11, 6, 8, 49, 36, 1, tzinfo=UTC), DATE),
        (
            datetime(1994, 11, 6, 9, 49, 37, tzinfo=timezone(timedelta(hours=1))),
            DATE,
        ),
        (datetime(1994, 11, 6, 8, 49, 37), DATE),  # naive: UTC
        (DATE, DATE),
    ],
    ids=["int", "float", "datetime", "microseconds", "other-zone", "naive", "str"],
)
def test_last_modified(value: Any, field: str) -> None:
    response = Response()
    response.last_modified = value
    assert response.headers["Last-Modified"] == field
    assert response.last_modified == datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)
    response.last_modified = None
    assert "Last-Modified" not in response.headers and response.last_modified is None
    with pytest.raises(TypeError):
        response.last_modified = [1]  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("value", "field", "read"),
    [
        ("abc", '"abc"', ETag("abc")),
        (ETag("abc"), '"abc"', ETag("abc")),
        (ETag("abc", is_weak=True), 'W/"abc"', ETag("abc", is_weak=True)),
        ("*", "*", ETag("*")),
        (ETag("*", is_weak=True), "*", ETag("*")),
    ],
)
def test_etag(value: ETag | str, field: str, read: ETag) -> None:
    response = Response()
    response.etag = value
    assert response.headers["ETag"] == field
    assert response.etag == read and (response.etag.value, response.etag.is_weak) == (
        read.value,
        read.is_weak,
    )
    response.etag = None
    assert "ETag" not in response.headers and response.etag is None


@pytest.mark.parametrize("value", ['a"b', "a b", "", "a\r\nX: y", 42])
def test_etag_refuses_what_is_not_an_entity_tag(value: Any) -> None:
    with pytest.raises(ValueError):
        Response().etag = value


@pytest.mark.parametrize("field", ["abc", '"a', 'w/"a"', '"a" "b"'])
def test_a_malformed_etag_field_reads_as_none(field: str) -> None:
    assert Response(headers={"ETag": field}).etag is None


# -- bodyless statuses ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: Response(status=204, text="dropped"),
        lambda: Response(status=304, body=b"dropped", content_type="text/html"),
        lambda: Response(status=304, text="x", headers={"X-A": "1", "Content-Type": "text/html"}),
        lambda: Response(status=204, reason="Done", content_type="application/json"),
        lambda: StreamResponse(status=304, headers={"Content-Type": "text/html", "ETag": '"e"'}),
        lambda: web.HTTPNotModified(headers={"ETag": '"e"'}),
    ],
    ids=["204-text", "304-typed", "304-with-headers", "204-reason", "stream-304", "exception-304"],
)
async def test_204_and_304_carry_no_body_type_or_length(
    make_server: MakeServer, raw_connect: Connect, make: Callable[[], Any]
) -> None:
    async def handler(request: Request) -> web.StreamResponse:
        return make()  # type: ignore[no-any-return]

    app = Application()
    app.add_routes([web.get("/", handler)])
    server = await make_server(app)
    conn = await raw_connect(server.port)
    await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    for _ in range(2):  # the second answer follows the first at once: nothing was left between
        response = await conn.read_response()
        assert response.status in (204, 304)
        assert not {"content-type", "content-length", "transfer-encoding"} & set(response.header_names())
    await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    last = await conn.read_response()
    assert await conn.read_until_close() == b"" and last.status in (204, 304)


@pytest.mark.parametrize("status", [100, 103, 199])
async def test_an_interim_status_is_no_answer(
    make_server: MakeServer, raw_connect: Connect, status: int
) -> None:
    async def handler(request: Request) -> web.StreamResponse:
        return Response(status=status, text="x")

    response = await serve_one(make_server, raw_connect, handler)
    assert response.status == 500  # a 1xx cannot end an exchange; logged as the handler's bug
