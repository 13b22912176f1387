"""HttpProtocol without sockets: raw bytes in, exact response bytes out.

A fake transport records what the protocol writes and behaves as asyncio's do
where it matters: ``close()``/``abort()`` report ``connection_lost`` on the next
loop iteration, and no bytes are delivered while reading is paused. Every case
is fed whole and one byte at a time (after h11's tests) and must answer the same.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from http import HTTPStatus
from typing import Any

import pytest

from service import Application, Limits, Request, Response, RouteTableDef, StreamResponse, json_response
from service.errors import ProtocolError
from service.http import reader as reader_module
from service.http.protocol import ConnectionSet, HttpProtocol
from service.http.wire import check_request_line

_DATE = re.compile(rb"Date: [^\r\n]*\r\n")


class FakeTransport:
    """Records writes; close/abort lose the connection on the next loop iteration."""

    def __init__(self) -> None:
        self.protocol: HttpProtocol | None = None
        self.data = bytearray()
        self.reading = True
        self.closed = False
        self.aborted = False
        self.lost = False
        self.eof_written = False  # our side shut (a lingering close): the client sees the end

    def write(self, data: bytes) -> None:
        assert isinstance(data, bytes | bytearray | memoryview)
        if not self.lost:  # asyncio drops writes once the connection is lost
            self.data += data

    def write_eof(self) -> None:
        self.eof_written = True

    def get_write_buffer_size(self) -> int:
        return 0  # every write is taken at once

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self._lose)

    def abort(self) -> None:
        self.aborted = True
        self.close()

    def _lose(self) -> None:
        if not self.lost:
            self.lost = True
            assert self.protocol is not None
            self.protocol.connection_lost(None)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000)}.get(name, default)


async def settle() -> None:
    """Run the loop until every other task is done, or a while if one stays blocked."""
    caller = asyncio.current_task()
    for _ in range(500):
        await asyncio.sleep(0)
        if all(t is caller or t.done() for t in asyncio.all_tasks()):
            break
    for _ in range(5):  # callbacks scheduled by the last task (connection_lost)
        await asyncio.sleep(0)


class Conn:
    """One fake connection to a fresh ``HttpProtocol``."""

    def __init__(self, app: Application, limits: Limits, bytewise: bool) -> None:
        self.bytewise = bytewise
        self.transport = FakeTransport()
        self.protocol = HttpProtocol(ConnectionSet(app, limits))
        self.transport.protocol = self.protocol
        self.protocol.connection_made(self.transport)  # type: ignore[arg-type]
        self.unsent = b""  # bytes the protocol never read (it stopped reading, or closed)

    async def _readable(self) -> bool:
        for _ in range(200):
            if self.transport.closed:
                return False
            if self.transport.reading:
                return True
            await asyncio.sleep(0)
        return False

    async def send(self, data: bytes, *, settle_after: bool = True) -> None:
        """Deliver ``data`` as the kernel would: whole, or one byte per loop iteration."""
        step = 1 if self.bytewise else max(len(data), 1)
        for i in range(0, len(data), step):
            if not await self._readable():
                self.unsent += data[i:]
                break
            self.protocol.data_received(data[i : i + step])
            if self.bytewise:
                await asyncio.sleep(0)
        if settle_after:
            await settle()

    async def eof(self) -> None:
        self.protocol.eof_received()
        await settle()

    @property
    def out(self) -> bytes:
        """What was written, with the Date header normalised."""
        return _DATE.sub(b"Date: X\r\n", bytes(self.transport.data))

    @property
    def closed(self) -> bool:
        """The client has seen the end of the connection (a close, or a lingering FIN)."""
        return self.transport.closed or self.transport.eof_written

    def lose(self) -> None:
        if not self.transport.lost:
            self.transport.lost = True
            self.protocol.connection_lost(None)


def expected(
    status: int = 200,
    body: bytes = b"",
    *,
    ct: bytes | None = b"text/plain; charset=utf-8",
    headers: bytes = b"",
    close: bool = False,
    keep_alive_10: bool = False,
    head: bool = False,
) -> bytes:
    """A ``Response`` as the protocol renders it (Date normalised)."""
    parts = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()]
    if ct is not None:
        parts.append(b"Content-Type: " + ct + b"\r\n")
    parts.append(headers)
    parts.append(b"Content-Length: %d\r\n" % len(body))
    parts.append(b"Date: X\r\nServer: service\r\n")
    if close:
        parts.append(b"Connection: close\r\n")
    elif keep_alive_10:
        parts.append(b"Connection: keep-alive\r\n")
    parts.append(b"\r\n")
    if not head:
        parts.append(body)
    return b"".join(parts)


def split_responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Cut a byte stream into ``(status, headers, body)`` by Content-Length (1xx: no body)."""
    out = []
    rest = data
    while rest:
        head, sep, rest = rest.partition(b"\r\n\r\n")
        assert sep, f"incomplete response head: {head!r}"
        lines = head.decode("latin-1").split("\r\n")
        version, status, _ = lines[0].split(" ", 2)
        assert version == "HTTP/1.1"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        length = 0 if int(status) < 200 else int(headers["content-length"])
        assert len(rest) >= length, f"truncated body: {rest!r}"
        out.append((int(status), headers, rest[:length]))
        rest = rest[length:]
    return out


def assert_error(data: bytes, status: int) -> None:
    """``data`` is exactly one protocol-error response with ``status``, saying it closes."""
    responses = split_responses(data)
    assert [r[0] for r in responses] == [status], data
    _, headers, body = responses[0]
    assert headers["connection"] == "close"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert body.startswith(f"{status}: {HTTPStatus(status).phrase}".encode())


# -- the application under test ------------------------------------------------------------


def make_app(client_max_size: int = 1024) -> tuple[Application, list[str]]:
    routes = RouteTableDef()
    calls: list[str] = []

    @routes.get("/")
    async def root(request: Request) -> Response:
        calls.append("/")
        return Response(text="hi")

    @routes.get("/p/{name}")
    async def named(request: Request) -> Response:
        calls.append(request.path)
        return Response(text=request.match_info["name"])

    @routes.get("/slow")
    async def slow(request: Request) -> Response:
        calls.append("/slow")
        for _ in range(20):
            await asyncio.sleep(0)
        return Response(text="slow")

    @routes.get("/t/{rest:path}")
    async def target(request: Request) -> Response:
        calls.append("/t")
        return Response(text="t")

    @routes.post("/echo")
    async def echo(request: Request) -> Response:
        calls.append("/echo")
        return Response(body=await request.read())

    @routes.post("/noread")
    async def noread(request: Request) -> Response:
        calls.append("/noread")
        return Response(text="ignored")

    @routes.get("/boom")
    async def boom(request: Request) -> Response:
        calls.append("/boom")
        raise RuntimeError("secret detail: password=hunter2")

    app = Application(client_max_size=client_max_size)
    app.add_routes(routes)
    app.freeze()
    return app, calls


@pytest.fixture(params=[False, True], ids=["whole", "bytewise"])
def bytewise(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
async def connect(bytewise: bool) -> AsyncIterator[Callable[..., Conn]]:
    conns: list[Conn] = []

    def make(app: Application | None = None, limits: Limits | None = None) -> Conn:
        conn = Conn(app if app is not None else make_app()[0], limits or Limits(), bytewise)
        conns.append(conn)
        return conn

    yield make
    for conn in conns:
        conn.lose()  # cancels the protocol's timers
    await settle()


def get(path: str = "/", *headers: str, version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}", "Host: example.com", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# -- requests and responses ---------------------------------------------------------------------


async def test_simple_get(connect: Callable[..., Conn]) -> None:
    conn = connect()
    await conn.send(get("/"))
    assert conn.out == expected(body=b"hi")
    assert not conn.closed


async def test_keep_alive_two_requests(connect: Callable[..., Conn]) -> None:
    conn = connect()
    await conn.send(get("/p/one"))
    await conn.send(get("/p/two"))
    assert conn.out == expected(body=b"one") + expected(body=b"two")
    assert not conn.closed


async def test_pipelined_requests_answered_in_order(connect: Callable[..., Conn]) -> None:
    app, calls = make_app()
    conn = connect(app)
    await conn.send(get("/slow") + get("/p/a") + get("/p/b"))
    assert conn.out == expected(body=b"slow") + expected(body=b"a") + expected(body=b"b")
    assert calls == ["/slow", "/p/a", "/p/b"]
    assert not conn.closed
    assert conn.transport.reading  # reading resumed once the queue was answered


async def test_http10_closes_by_default(connect: Callable[..., Conn]) -> None:
    conn = connect()
    await conn.send(get("/", version="1.0") + get("/p/never", version="1.0"))
    assert conn.out == expected(body=b"hi", close=True)
    assert conn.closed


async def test_http10_keep_alive_when_asked(connect: Callable[..., Conn]) -> None:
    conn = connect()
    await conn.send(get("/", "Connection: keep-alive", version="1.0"))
    await conn.send(get("/p/x", "Connection: keep-alive", version="1.0"))
    assert conn.out == expected(body=b"hi", keep_alive_10=True) + expected(body=b"x", keep_alive_10=True)
    assert not conn.closed


async def test_connection_close_from_client(connect: Callable[..., Conn]) -> None:
    app, calls = make_app()
    conn = connect(app)
    await conn.send(get("/", "Connection: close") + get("/p/never"))
    assert conn.out == expected(body=b"hi", close=True)
    assert conn.closed
    assert calls == ["/"]


async def test_half_close_answers_then_closes(connect: Callable[..., Conn]) -> None:
    conn = connect()
    await conn.send(get("/"))
    await conn.eof()
    assert conn.out == expected(body=b"hi")
    assert conn.closed


async def test_head_gets_headers_without_body(connect: Callable[..., Conn]) -> None:
    conn = connect()
    await conn.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/p/after"))
    assert conn.out == expected(body=b"hi", head=True) + expected(body=b"after")
    assert not conn.closed


async def test_handler_exception_is_a_generic_500(connect: Callable[..., Conn]) -> None:
    conn = connect()
    await conn.send(get("/boom"))
    assert conn.out == expected(500, b"500: Internal Server Error")
    assert b"Traceback" not in conn.out
    assert b"hunter2" not in conn.out
    assert b"RuntimeError" not in conn.out
    await conn.send(get("/p/next"))  # the connection survives its handler's failure
    assert conn.out.endswith(expected(body=b"next"))


# -- bodies ---------------------------------------------------------------------------------------------


async def test_content_length_body_echoed(connect: Callable[..., Conn]) -> None:
    conn = connect()
    await conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world" + get("/"))
    ct = b"application/octet-stream"
    assert conn.out == expected(body=b"hello world", ct=ct) + expected(body=b"hi")


async def test_chunked_body_echoed(connect: Callable[..., Conn]) -> None:
    conn = connect()
    body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
    await conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body + get("/"))
    ct = b"application/octet-stream"
    assert conn.out == expected(body=b"hello world", ct=ct) + expected(body=b"hi")
    assert not conn.closed


async def test_unread_body_closes_the_connection(connect: Callable[..., Conn]) -> None:
    # The handler answered before the body arrived: the rest of the stream cannot be trusted.
    conn = connect()
    await conn.send(b"POST /noread HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
    assert conn.out == expected(body=b"ignored", close=True)
    assert conn.closed


async def test_chunked_body_over_limit_is_413_from_read(connect: Callable[..., Conn]) -> None:
    app, calls = make_app(client_max_size=10)
    conn = connect(app)
    body = b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"
    await conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body + get("/"))
    text = b"413: request body is larger than the limit of 10 bytes"
    assert conn.out == expected(413, text, close=True)
    assert conn.closed
    assert calls == ["/echo"]


# -- Expect: 100-continue -----------------------------------------------------------------------------


async def test_100_continue_sent_when_handler_reads(connect: Callable[..., Conn]) -> None:
    conn = connect()
    await conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    assert conn.out == b"HTTP/1.1 100 Continue\r\n\r\n"
    await conn.send(b"hello")
    assert conn.out == b"HTTP/1.1 100 Continue\r\n\r\n" + expected(
        body=b"hello", ct=b"application/octet-stream"
    )
    assert not conn.closed


async def test_100_continue_not_sent_when_handler_does_not_read(connect: Callable[..., Conn]) -> None:
    conn = connect()
    await conn.send(b"POST /noread HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    assert conn.out == expected(body=b"ignored", close=True)
    assert conn.closed


# -- malformed requests -------------------------------------------------------------------------------

MALFORMED = {
    "bad-header-line": b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    "bad-method": b"GARBAGE\r\n\r\n",
    "bare-lf": b"GET / HTTP/1.1\nHost: x\n\n",
    "bad-content-length": b"POST /noread HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "two-content-lengths": b"POST /noread HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "cl-and-te": b"POST /noread HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-not-chunked": b"POST /noread HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    "non-utf8-path": b"GET /%ff HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_request_is_400_and_close(connect: Callable[..., Conn], data: bytes) -> None:
    app, calls = make_app()
    conn = connect(app)
    await conn.send(data)
    assert_error(conn.out, 400)
    assert conn.closed
    assert calls == []


async def test_absolute_form_target_is_accepted(connect: Callable[..., Conn]) -> None:
    # RFC 9112 section 3.2.2: "A server MUST accept the absolute-form in requests".
    conn = connect()
    await conn.send(b"GET http://example.com/p/abs HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert conn.out == expected(body=b"abs")


@pytest.mark.parametrize("version", ["1.2", "3.0", "2.0", "0.9"])
async def test_unknown_http_version_is_505(connect: Callable[..., Conn], version: str) -> None:
    app, calls = make_app()
    conn = connect(app)
    await conn.send(get("/", version=version))
    assert_error(conn.out, 505)
    assert conn.closed
    assert calls == []


def _version_app() -> Application:
    app = Application()

    async def version(request: Request) -> Response:
        return Response(text=f"{request.version.major}.{request.version.minor} {request.keep_alive}")

    app.router.add_get("/v", version)
    app.freeze()
    return app


# (HTTP version, a Connection-like field or None, what the handler sees). The protocol
# infers 1.1 from llhttp's keep-alive answer when no such field is present, and asks the
# parser otherwise; every combination must agree with the request line. llhttp reads
# Proxy-Connection as Connection, so it counts too.
VERSION_ROWS = [
    ("1.1", None, b"1.1 True"),
    ("1.1", "Connection: keep-alive", b"1.1 True"),
    ("1.1", "Connection: close", b"1.1 False"),
    ("1.1", "Connection: Keep-Alive, TE", b"1.1 True"),
    ("1.1", "Proxy-Connection: close", b"1.1 False"),
    ("1.0", None, b"1.0 False"),
    ("1.0", "Connection: keep-alive", b"1.0 True"),
    ("1.0", "Connection: close", b"1.0 False"),
    ("1.0", "Proxy-Connection: keep-alive", b"1.0 True"),
]


@pytest.mark.parametrize(("version", "field", "seen"), VERSION_ROWS)
async def test_the_handler_sees_the_version_and_keep_alive_of_the_request_line(
    connect: Callable[..., Conn], version: str, field: str | None, seen: bytes
) -> None:
    conn = connect(_version_app())
    await conn.send(get("/v", *([field] if field else []), version=version))
    assert split_responses(conn.out)[0][2] == seen


async def test_versions_alternating_on_one_connection_are_each_seen(connect: Callable[..., Conn]) -> None:
    conn = connect(_version_app())
    await conn.send(
        get("/v", "Connection: keep-alive", version="1.0")
        + get("/v")
        + get("/v", "Connection: keep-alive", version="1.0")
        + get("/v", version="1.0")
    )
    bodies = [r[2] for r in split_responses(conn.out)]
    assert bodies == [b"1.0 True", b"1.1 True", b"1.0 True", b"1.0 False"]
    assert conn.closed


@pytest.mark.parametrize("field", ["Connection: keep-alive", "Proxy-Connection: keep-alive"])
async def test_an_unknown_version_asking_for_keep_alive_is_still_505(
    connect: Callable[..., Conn], field: str
) -> None:
    conn = connect(_version_app())
    await conn.send(get("/v", field, version="2.0"))
    assert_error(conn.out, 505)
    assert conn.closed


async def test_requests_before_a_malformed_one_are_answered(connect: Callable[..., Conn]) -> None:
    app, calls = make_app()
    conn = connect(app)
    await conn.send(get("/p/a") + get("/p/b") + b"GARBAGE / HTTP/1.1\r\n\r\n" + get("/p/never"))
    responses = split_responses(conn.out)
    assert [r[0] for r in responses] == [200, 200, 400]
    assert conn.out.startswith(expected(body=b"a") + expected(body=b"b"))
    assert_error(conn.out[len(expected(body=b"a") + expected(body=b"b")) :], 400)
    assert conn.closed
    assert calls == ["/p/a", "/p/b"]


async def test_bad_chunk_inside_body_is_400_from_read(connect: Callable[..., Conn]) -> None:
    app, calls = make_app()
    conn = connect(app)
    await conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + get("/"))
    status, headers, _ = split_responses(conn.out)[0]
    assert len(split_responses(conn.out)) == 1
    assert status == 400
    assert headers["connection"] == "close"
    assert conn.closed


async def test_deferred_whole_answers_keep_their_place_among_every_other_write(
    connect: Callable[..., Conn],
) -> None:
    """Whole responses wait for the end of the loop iteration; a streamed response, a
    ``100 Continue`` and a protocol error must still come after the answers before them."""
    routes = RouteTableDef()

    @routes.get("/text/{word}")
    async def text(request: Request) -> Response:
        return Response(text=request.match_info["word"])

    @routes.get("/stream")
    async def stream(request: Request) -> StreamResponse:
        response = StreamResponse()
        await response.prepare(request)
        await response.write(b"second")
        return response

    @routes.post("/echo")
    async def echo(request: Request) -> Response:
        return Response(body=await request.read())

    app = Application()
    app.add_routes(routes)
    app.freeze()
    conn = connect(app)
    post = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\n"
    await conn.send(get("/text/first") + get("/stream") + get("/text/third") + post)
    await conn.send(b"fourth" + get("/text/fifth") + b"GET / HTTP/1.1\r\n\r\n")  # no Host: 400
    out = conn.out
    marks = [b"first", b"second", b"third", b"100 Continue", b"fourth", b"fifth", b"400 Bad Request"]
    places = [out.find(mark) for mark in marks]
    assert -1 not in places and places == sorted(places), out


CL = "Content-Length"


@pytest.mark.parametrize(
    ("make", "status", "length"),
    [
        pytest.param(
            lambda: StreamResponse(status=304, headers={"Content-Length": "10"}), 304, "10", id="304"
        ),
        pytest.param(
            lambda: StreamResponse(status=204, headers={"Content-Length": "0"}), 204, None, id="204"
        ),
        pytest.param(
            lambda: Response(status=204, headers={"Content-Length": "0"}), 204, None, id="204-whole"
        ),
    ],
)
async def test_bodyless_statuses_end_without_a_body_and_keep_the_connection(
    connect: Callable[..., Conn], make: Callable[[], StreamResponse], status: int, length: str | None
) -> None:
    """A 304 may say the length a GET would have (and sends no body); a 204 never has one."""
    routes = RouteTableDef()

    @routes.get("/bodyless")
    async def bodyless(request: Request) -> StreamResponse:
        return make()

    @routes.get("/next")
    async def after(request: Request) -> Response:
        return Response(text="next")

    app = Application()
    app.add_routes(routes)
    app.freeze()
    for method in ("GET", "HEAD"):
        conn = connect(app)
        first = f"{method} /bodyless HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        await conn.send(first + get("/next"))
        head, _, rest = conn.out.partition(b"\r\n\r\n")  # no body: the next answer follows at once
        lines = head.decode().split("\r\n")
        fields = dict(line.split(": ", 1) for line in lines[1:])
        assert (lines[0].split(" ")[1], fields.get("Content-Length")) == (str(status), length), conn.out
        assert rest.startswith(b"HTTP/1.1 200 OK\r\n") and rest.endswith(b"\r\n\r\nnext"), conn.out
        assert not conn.closed


async def test_answers_before_a_response_the_server_cannot_render_are_not_lost(
    connect: Callable[..., Conn],
) -> None:
    routes = RouteTableDef()

    @routes.get("/bad")
    async def bad(request: Request) -> StreamResponse:
        return StreamResponse(headers={"X Bad Name": "1"})  # refused when the server prepares it

    app = Application()
    app.add_routes(routes)
    app.router.add_get("/", lambda request: _text("first"))
    app.freeze()
    conn = connect(app)
    await conn.send(get("/") + get("/bad") + get("/"))
    assert [(s, b) for s, _, b in split_responses(conn.out)] == [
        (200, b"first"),
        (500, b"500: Internal Server Error"),
        (200, b"first"),
    ]


async def _text(text: str) -> Response:
    return Response(text=text)


# -- request.json() on a body that is not JSON (issue: it was a 500) ---------------------------------
def json_app() -> Application:
    async def parse(request: Request) -> Response:
        return json_response(await request.json())

    async def catch_value_error(request: Request) -> Response:
        try:
            await request.json()
        except ValueError as exc:
            return Response(text=f"ValueError {exc.lineno}:{exc.colno}", status=422)  # type: ignore[attr-defined]
        return Response(text="parsed")

    async def catch_decode_error(request: Request) -> Response:
        try:
            await request.json()
        except json.JSONDecodeError as exc:  # what aiohttp code catches: json.loads's own error
            return Response(text=f"JSONDecodeError {exc.msg}", status=422)
        return Response(text="parsed")

    app = Application()
    app.router.add_post("/parse", parse)
    app.router.add_post("/value", catch_value_error)
    app.router.add_post("/decode", catch_decode_error)
    app.freeze()
    return app


@pytest.mark.parametrize(
    ("path", "body", "status", "text"),
    [
        ("/parse", b'{"a": [1, 2]}', 200, b'{"a": [1, 2]}'),
        ("/parse", b'{"pw": hunter2}', 400, b"400: the request body is not valid JSON: Expecting value"),
        ("/parse", b"", 400, b"400: the request body is not valid JSON: Expecting value (line 1, column 1)"),
        ("/parse", b'{"a": 1} {"b": 2}', 400, b"400: the request body is not valid JSON: Extra data"),
        ("/value", b"{oops", 422, b"ValueError 1:2"),
        ("/decode", b"[1,", 422, b"JSONDecodeError Expecting value"),
    ],
)
async def test_json_of_a_body_that_is_not_json_is_a_400_and_a_value_error(
    connect: Callable[..., Conn], path: str, body: bytes, status: int, text: bytes
) -> None:
    conn = connect(json_app())
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    await conn.send(head + body)
    [(got, _, answer)] = split_responses(conn.out)
    assert (got, answer[: len(text)]) == (status, text)
    assert b"hunter2" not in conn.out  # the input is never echoed back
    assert not conn.closed  # a client's mistake in a body it sent whole: the connection goes on


# -- the request-line check stays cheap, whatever the bytes -------------------------------------------
async def test_pipelined_requests_take_the_fast_path_of_the_request_line_check(
    connect: Callable[..., Conn], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A target ("/") that also stands in the line before it ("HTTP/1.1") and in a field
    # ("*/*") must not send each pipelined request to the slow scan of the read.
    slow: list[bytes] = []
    real = reader_module.check_request_line

    def counted(raw: bytes | bytearray, start: int, method: bytes, target: bytes) -> int:
        slow.append(target)
        return real(raw, start, method, target)

    monkeypatch.setattr(reader_module, "check_request_line", counted)
    conn = connect()
    one = b"GET / HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nReferer: http://x/\r\n\r\n"
    await conn.send(one * 50)
    assert split_responses(conn.out) == [(200, split_responses(conn.out)[0][1], b"hi")] * 50
    assert slow == []


class CountingBytes(bytearray):
    """Counts the bytes the request-line check looks at, through every method it may use."""

    looked = 0

    def find(self, sub: Any, start: Any = None, *args: Any) -> int:
        at = super().find(sub, start, *args)
        CountingBytes.looked += (at if at >= 0 else len(self)) - (start or 0) + len(sub)
        return at

    def __getitem__(self, index: Any) -> Any:
        CountingBytes.looked += 1
        return super().__getitem__(index)


@pytest.mark.parametrize(
    ("line", "copies"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", 3000),  # "/" everywhere
        (b"x" + b" " * 50 + b"/ / / /" + b" " * 50, 1000),  # spaces around many targets
    ],
    ids=["pipelined", "spaces"],
)
def test_the_slow_request_line_check_is_linear_in_the_bytes(line: bytes, copies: int) -> None:
    raw = CountingBytes(line * copies + b"PUT / RTSP/1.0\r\n")
    CountingBytes.looked = 0
    with pytest.raises(ProtocolError):  # scanned to the end: the only line with PUT is RTSP
        check_request_line(raw, 0, b"PUT", b"/")
    assert CountingBytes.looked <= 4 * len(raw)


async def test_a_read_is_not_held_once_parsed(connect: Callable[..., Conn]) -> None:
    # An idle connection keeps no body it has parsed (10,000 of them would hold GBs),
    # and a head begun at the end of a large read keeps only what a head may span.
    conn = connect(make_app(client_max_size=1 << 20)[0])
    body = b"x" * 200_000
    await conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert conn.out.endswith(body)
    assert len(conn.protocol._reader._raw) == 0
    if not conn.bytewise:
        await conn.send(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + body + b"GET / HT"
        )
        assert 0 < len(conn.protocol._reader._raw) <= Limits().max_head_bytes
        await conn.send(b"TP/1.1\r\nHost: x\r\n\r\n")
        assert conn.out.endswith(b"hi") and len(conn.protocol._reader._raw) == 0
