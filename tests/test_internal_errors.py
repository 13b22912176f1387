"""A fault of ours is never the client's: a 500, one ERROR record with its traceback, a close.

Each row breaks one piece of the server's own code on the path that reads a request
-- a parser callback, the body's feeding -- and sends a request that reaches it,
whole and one byte at a time, to a real server on 127.0.0.1. The client must get a
500 (not a 400 as if its bytes were bad) and a closed connection; the log must hold
one ERROR record with the injected exception's traceback and the request line; and
the server must go on serving new connections once the fault is gone.
"""

from __future__ import annotations

import copy
import json
import logging
import pickle
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from robustness.support import assert_alive, build_app, exchange, final, short_timeouts

from service import Application, Request, Response, Server
from service.http.reader import RequestReader
from service.web.httpexc import InvalidJSONBody

MakeServer = Callable[..., Awaitable[Server]]

GET = b"GET /ok?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
CHUNKED += b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"  # a body and a trailer field


class Injected(RuntimeError):
    """The fault a test puts into the server's code."""


def broken(*args: Any, **kwargs: Any) -> None:
    raise Injected("injected fault")


NOT_READ = "(request line not read yet)"  # the fault came before the target was read
FAULTS = [
    pytest.param(
        RequestReader, "on_message_begin", GET, "(request line not read yet)", id="on_message_begin"
    ),
    pytest.param(RequestReader, "on_url", GET, "(request line not read yet)", id="on_url"),
    pytest.param(RequestReader, "on_header", GET, "GET /ok?x=1", id="on_header"),
    pytest.param(RequestReader, "on_headers_complete", GET, "GET /ok?x=1", id="on_headers_complete"),
    pytest.param(RequestReader, "on_message_complete", GET, "GET /ok?x=1", id="on_message_complete"),
    pytest.param(RequestReader, "on_body", POST, "POST /echo", id="on_body"),
    pytest.param(RequestReader, "on_message_complete", POST, "POST /echo", id="on_message_complete-body"),
    pytest.param(RequestReader, "_on_trailer", CHUNKED, "POST /echo", id="trailer"),
    pytest.param(Request, "feed_body", POST, "POST /echo", id="feed_body"),
    pytest.param(Request, "feed_body", CHUNKED, "POST /echo", id="feed_body-chunked"),
]


@pytest.mark.parametrize(("owner", "name", "data", "line"), FAULTS)
async def test_a_fault_in_our_code_is_a_logged_500_and_a_close(
    make_server: MakeServer,
    raw_connect: Any,
    bytewise: bool,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    owner: type,
    name: str,
    data: bytes,
    line: str,
) -> None:
    server = await make_server(build_app(), limits=short_timeouts())
    with monkeypatch.context() as patch, caplog.at_level(logging.ERROR):
        patch.setattr(owner, name, broken)
        conn = await raw_connect(server.port)
        result = await exchange(conn, data, bytewise=bytewise)
    responses = final(result.responses())
    assert [r.status for r in responses] == [500], result.raw
    assert responses[0].closes and result.closed, result.raw
    assert b"injected" not in result.raw  # the cause stays in the log
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    [record] = errors
    assert record.name == "service.error"
    assert line in record.getMessage(), record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], Injected)
    await assert_alive(raw_connect, server.port)  # the fault is gone: served as usual


@pytest.fixture(params=[False, True], ids=["whole", "bytewise"])
def bytewise(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


# -- client_max_size=None: no limit, as in aiohttp ----------------------------------------------------
async def test_client_max_size_none_means_no_limit(make_server: MakeServer, raw_connect: Any) -> None:
    server = await make_server(build_app(client_max_size=None), limits=short_timeouts())  # type: ignore[arg-type]
    conn = await raw_connect(server.port)
    body = b"x" * (3 * 1024 * 1024)  # over the default limit of 1 MiB
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    chunked = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    result = await exchange(conn, head + body + chunked, bytewise=False, expect=2)
    responses = final(result.responses())
    assert [(r.status, len(r.body)) for r in responses] == [(200, len(body))] * 2


@pytest.mark.parametrize(
    ("value", "error"),
    [("1MiB", TypeError), (1.5, TypeError), (True, TypeError), (0, ValueError), (-1, ValueError)],
)
def test_client_max_size_must_be_a_positive_int_or_none(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="client_max_size"):
        Application(client_max_size=value)  # type: ignore[arg-type]


async def test_path_qs_is_encoded_as_sent(make_server: MakeServer, raw_connect: Any) -> None:
    async def where(request: Request) -> Response:
        return Response(text=f"{request.path}|{request.path_qs}")

    app = Application()
    app.router.add_get("/{name}", where)
    server = await make_server(app, limits=short_timeouts())
    conn = await raw_connect(server.port)
    data = b"GET /path%20to%3Fx?a=1&b=%26 HTTP/1.1\r\nHost: x\r\n\r\n"
    [response] = final((await exchange(conn, data, bytewise=False)).responses())
    # Decoded, the path's %3F would read as the start of the query.
    assert response.body == b"/path to?x|/path%20to%3Fx?a=1&b=%26"


async def test_the_log_names_the_request_being_read_not_the_one_before(
    make_server: MakeServer,
    raw_connect: Any,
    bytewise: bool,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = RequestReader.on_header

    def on_header(self: RequestReader, name: bytes, value: bytes) -> None:
        if name == b"X-Boom":
            raise Injected("injected fault")
        real(self, name, value)

    server = await make_server(build_app(), limits=short_timeouts())
    data = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /ok?b HTTP/1.1\r\nHost: x\r\nX-Boom: 1\r\n\r\n"
    with monkeypatch.context() as patch, caplog.at_level(logging.ERROR):
        patch.setattr(RequestReader, "on_header", on_header)
        conn = await raw_connect(server.port)
        result = await exchange(conn, data, bytewise=bytewise, expect=2)
    assert [r.status for r in final(result.responses())] == [200, 500], result.raw
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == "Internal error reading GET /ok?b"


def test_an_invalid_json_body_error_survives_copy_and_pickle() -> None:
    try:
        json.loads("[1,")
    except json.JSONDecodeError as exc:
        error = InvalidJSONBody(exc)
    for clone in (copy.copy(error), pickle.loads(pickle.dumps(error))):
        assert (type(clone), clone.status, clone.text, clone.msg, clone.lineno, clone.colno) == (
            InvalidJSONBody,
            400,
            error.text,
            "Expecting value",
            1,
            4,
        )
