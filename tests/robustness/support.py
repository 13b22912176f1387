"""Shared pieces of the robustness tests: the app under test, a strict response reader,
and one raw exchange with a real server (whole or one byte at a time).

The reader is deliberately stricter than a forgiving client: every byte the server
sends must belong to a complete, well-formed HTTP/1.1 response framed by
``Content-Length``, and nothing may follow a response that says ``Connection: close``.

Every wait is bounded (``TIMEOUT``); nothing here asserts how fast anything happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from service import Application, Limits, Request, Response, RouteTableDef, json_response

TIMEOUT = 5.0  # upper bound for any single exchange; never a timing assertion
CLOSE = "close"  # an expectation: no response at all, the server just closes

RawConnect = Callable[[int], Awaitable[Any]]  # tests/conftest.py's raw_connect -> RawConnection

_STATUS_LINE = re.compile(rb"HTTP/1\.1 ([1-5][0-9][0-9]) ([\t -~\x80-\xff]*)")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(rb"[\t -~\x80-\xff]*")


def short_timeouts(**limits: Any) -> Limits:
    """``Limits`` whose timeouts end a stalled message well within ``TIMEOUT``, so that a
    stall shows as a 408 and not as "no answer" (``body_timeout`` where the server has one)."""
    known = {f.name for f in dataclasses.fields(Limits)}
    for name in ("header_timeout", "body_timeout"):
        if name in known:
            limits.setdefault(name, 2.0)
    return Limits(**limits)


def build_app(client_max_size: int = 1024**2, calls: list[str] | None = None) -> Application:
    """``GET /ok`` -> 200 "ok"; ``POST /echo`` echoes the body it reads; ``GET /headers``
    answers the header names it received, as JSON. Each handler that runs appends its
    path to ``calls``, if given (so a test can tell a refusal before any handler)."""
    routes = RouteTableDef()
    ran = calls if calls is not None else []

    @routes.get("/ok")
    async def ok(request: Request) -> Response:
        ran.append("/ok")
        return Response(text="ok")

    @routes.post("/echo")
    async def echo(request: Request) -> Response:
        ran.append("/echo")
        return Response(body=await request.read())

    @routes.get("/headers")
    async def headers(request: Request) -> Response:
        return json_response([name.decode("latin-1") for name, _ in request.raw_headers])

    app = Application(client_max_size=client_max_size)
    app.add_routes(routes)
    return app


# -- reading responses ------------------------------------------------------------------------------


class Malformed(AssertionError):
    """The server sent bytes that are not a well-formed HTTP/1.1 response."""


@dataclass
class Parsed:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def closes(self) -> bool:
        return (self.header("Connection") or "").lower() == "close"


def parse_responses(data: bytes, *, maybe_head: bool = False) -> tuple[list[Parsed], bytes]:
    """Cut ``data`` into complete responses; return them and the incomplete rest.

    Raises ``Malformed`` for anything a strict client would refuse: a bad status line
    or header line, a final response without a valid ``Content-Length`` (1xx and 204
    have none and no body), chunked framing (the app under test never streams) or
    bytes after ``Connection: close``. ``maybe_head``: some request may have been a
    HEAD, whose answer declares a length but has no body; such an answer is recognised
    by what follows its head (the next status line, or the end of ``data``).
    """
    responses: list[Parsed] = []
    rest = data
    while rest:
        if responses and responses[-1].closes:
            raise Malformed(f"bytes after a Connection: close response: {rest[:200]!r}")
        head, sep, after = rest.partition(b"\r\n\r\n")
        if not sep:
            if not b"HTTP/1.1 ".startswith(rest[:9]):
                raise Malformed(f"not a status line: {rest[:200]!r}")
            return responses, rest  # an incomplete head
        lines = head.split(b"\r\n")
        status_line = _STATUS_LINE.fullmatch(lines[0])
        if status_line is None:
            raise Malformed(f"bad status line {lines[0]!r}")
        status = int(status_line.group(1))
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            value = value.strip(b" \t")
            if not colon or not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
                raise Malformed(f"bad header line {line!r} in {head!r}")
            headers.append((name.decode("latin-1"), value.decode("latin-1")))
        response = Parsed(status, headers, b"")
        if response.header("Transfer-Encoding") is not None:
            raise Malformed(f"unexpected Transfer-Encoding in {head!r}")
        if status < 200 or status == 204:
            if response.header("Content-Length") is not None:
                raise Malformed(f"Content-Length in a {status} response {head!r}")
            responses.append(response)
            rest = after
            continue
        lengths = [v for k, v in headers if k.lower() == "content-length"]
        if len(lengths) != 1 or not lengths[0].isdigit():
            raise Malformed(f"a final response needs one valid Content-Length: {head!r}")
        length = int(lengths[0])
        if status == 304 or (maybe_head and (not after or after.startswith(b"HTTP/1.1 "))):
            length = 0
        if len(after) < length:
            return responses, rest  # an incomplete body
        response.body = after[:length]
        responses.append(response)
        rest = after[length:]
    return responses, b""


def final(responses: list[Parsed]) -> list[Parsed]:
    """The responses without interim (1xx) ones."""
    return [r for r in responses if r.status >= 200]


# -- one exchange over a raw connection --------------------------------------------------------------


@dataclass
class Exchange:
    """What came back for bytes sent on one connection."""

    raw: bytes  # every byte the server sent
    closed: bool  # the server closed (FIN or reset) within the bounded wait
    sent: int  # bytes the client managed to send before the server closed

    def responses(self) -> list[Parsed]:
        responses, rest = parse_responses(self.raw)
        if rest:
            raise Malformed(f"incomplete response at the end: {rest[:300]!r}")
        return responses


async def exchange(
    conn: Any, data: bytes, *, bytewise: bool, expect: int = 1, half_close: bool = False
) -> Exchange:
    """Send ``data`` on ``conn`` (a ``RawConnection``) and collect what comes back.

    ``bytewise`` sends one byte per write and lets the server run in between. Sending
    stops early if the server closes (it need not read what follows an error). The
    collection ends when the server closes, or, if ``expect`` final responses have
    arrived and the last of them keeps the connection open, at once (the server has
    said it will not close); otherwise after ``TIMEOUT``. ``half_close`` shuts the
    client's write side after sending.
    """
    received = bytearray()
    closed = asyncio.Event()

    async def read() -> None:
        # Always waiting in read(): bytes are taken as they come, so a reset after them
        # (the server closed with our unread bytes pending) cannot hide them.
        reader = conn.reader
        while True:
            try:
                chunk = await reader.read(65536)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                closed.set()
                return
            received.extend(chunk)
            with contextlib.suppress(Malformed):
                responses, rest = parse_responses(bytes(received))
                done = final(responses)
                if not rest and len(done) >= expect and not done[-1].closes:
                    return

    reading = asyncio.ensure_future(read())
    sent = 0
    writer = conn.writer
    try:
        step = 1 if bytewise else max(len(data), 1)
        for i in range(0, len(data), step):
            if reading.done() or writer.is_closing():
                break
            writer.write(data[i : i + step])
            try:
                await asyncio.wait_for(writer.drain(), TIMEOUT)
            except (ConnectionResetError, BrokenPipeError):
                break
            sent = i + step
            if bytewise:
                await asyncio.sleep(0)
        if half_close and not writer.is_closing():
            with contextlib.suppress(OSError):
                writer.write_eof()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(reading), TIMEOUT)
    finally:
        if not reading.done():
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
    return Exchange(bytes(received), closed.is_set(), min(sent, len(data)))


async def assert_alive(raw_connect: RawConnect, port: int) -> None:
    """A fresh connection still gets ``200 ok`` for ``GET /ok``."""
    conn = await raw_connect(port)
    await conn.send(b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    response = await conn.read_response()
    assert (response.status, response.body) == (200, b"ok"), "the server is no longer serving"
    await conn.close()


def assert_rejected(result: Exchange, statuses: tuple[Any, ...], before: tuple[int, ...], why: str) -> None:
    """The answers are ``before`` (pipelined requests ahead of the bad one), then one of
    ``statuses`` (a 4xx/5xx with ``Connection: close``, or ``CLOSE``: nothing at all), and the
    server has closed the connection."""
    responses = final(result.responses())
    got = [r.status for r in responses]
    context = f"{why}\n  got {got}, closed={result.closed}\n  raw: {result.raw[:600]!r}"
    assert got[: len(before)] == list(before), context
    rest = responses[len(before) :]
    if CLOSE in statuses and not rest:
        pass  # closed without an answer: allowed for this row
    else:
        assert len(rest) == 1, f"expected one answer for the bad request\n{context}"
        assert rest[0].status in statuses, f"expected one of {statuses}\n{context}"
        assert 400 <= rest[0].status <= 599, context
        assert rest[0].closes, f"the error response must say Connection: close\n{context}"
    assert result.closed, f"the server must close the connection\n{context}"
