"""Handlers that raise, return garbage, block or hang, while another client is served.

Each row is one faulty handler: what the client gets, whether the failure is logged
(once, naming the request), and why. For every row a bystander keeps a second
keep-alive connection busy with good requests before, during and after the fault,
and must get nothing but 200s; the faulty request's own connection must serve a
good request afterwards whenever its answer was complete. No answer may reveal the
cause (no exception text, no traceback).

The error log is part of the expectation here, so this module narrows the
directory's ``no_crash`` rule: a logged handler failure is asserted per row, and
any other error record still fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from serving import MemoryLines

from service import Application, HTTPNotFound, Request, Response, Server, StreamResponse
from service.ops.accesslog import AccessLog

from .support import TIMEOUT

MakeServer = Callable[..., Awaitable[Server]]
RawConnect = Callable[[int], Awaitable[Any]]
HANDLER_TIMEOUT = 1.0  # the server-wide handler timeout these tests run with
INTERNAL = b"500: Internal Server Error"
TRUNCATED = "truncated"  # a streamed answer that cannot be finished: cut off by a close


async def _raises(request: Request) -> Response:
    raise ValueError("secret detail the client must not see")


async def _raises_after_suspending(request: Request) -> Response:
    await asyncio.sleep(0)
    raise ValueError("secret detail the client must not see")


async def _own_connection_reset(request: Request) -> Response:
    raise ConnectionResetError("the database went away")


async def _stray_cancelled_error(request: Request) -> Response:
    raise asyncio.CancelledError


async def _awaits_a_cancelled_future(request: Request) -> Response:
    await asyncio.sleep(0)
    future = asyncio.get_running_loop().create_future()
    future.cancel()
    return await future  # type: ignore[no-any-return]


async def _calls_sys_exit(request: Request) -> Response:
    raise SystemExit(3)


def _returns(value: Any) -> Callable[[Request], Awaitable[Any]]:
    async def handler(request: Request) -> Any:
        return value

    return handler


async def _header_with_crlf(request: Request) -> Response:
    return Response(text="x", headers={"X-Note": "a\r\nSet-Cookie: injected=1"})


async def _header_not_latin1(request: Request) -> Response:
    return Response(text="x", headers={"X-Note": "\u2603"})


async def _header_name_with_space(request: Request) -> Response:
    return Response(text="x", headers={"X Note": "1"})


async def _header_with_control(request: Request) -> Response:
    return Response(text="x", headers={"X-Note": "a\x0bb"})


async def _wrong_content_length(request: Request) -> Response:
    return Response(body=b"hello", headers={"Content-Length": "2"})


async def _own_transfer_encoding(request: Request) -> Response:
    return Response(text="x", headers={"Transfer-Encoding": "chunked"})


async def _streams_short_of_its_length(request: Request) -> StreamResponse:
    response = StreamResponse(headers={"Content-Length": "10"})
    await response.prepare(request)
    await response.write(b"short")
    return response


async def _streams_past_its_length(request: Request) -> StreamResponse:
    response = StreamResponse()
    response.content_length = 2
    await response.prepare(request)
    await response.write(b"hello")
    return response


async def _unprepared_stream_with_bad_header(request: Request) -> StreamResponse:
    return StreamResponse(headers={"Transfer-Encoding": "chunked"})  # refused when the server prepares it


async def _prepares_a_stream_with_crlf_header(request: Request) -> StreamResponse:
    response = StreamResponse(headers={"X-Bad": "a\r\nInjected: yes"})
    await response.prepare(request)
    return response


async def _catches_the_short_write_eof(request: Request) -> StreamResponse:
    response = StreamResponse(headers={"Content-Length": "5"})
    await response.prepare(request)
    await response.write(b"ab")
    with contextlib.suppress(RuntimeError):
        await response.write_eof()  # "fewer bytes than declared": ignored, wrongly
    return response


async def _catches_the_long_write(request: Request) -> StreamResponse:
    response = StreamResponse(headers={"Content-Length": "5"})
    await response.prepare(request)
    await response.write(b"ab")
    with contextlib.suppress(RuntimeError):
        await response.write(b"cdefgh")  # "past the declared length": ignored, wrongly
    return response


async def _interim_stream(request: Request) -> StreamResponse:
    return StreamResponse(status=101)


async def _bad_status(request: Request) -> Response:
    return Response(status=42)


async def _fails_mid_stream(request: Request) -> StreamResponse:
    response = StreamResponse()
    await response.prepare(request)
    await response.write(b"partial")
    raise ValueError("failed after the head was sent")


async def _blocks(request: Request) -> Response:
    time.sleep(0.3)  # blocking the event loop: a bug, but not a fatal one  # noqa: ASYNC251
    return Response(text="blocked, then answered")


async def _hangs(request: Request) -> Response:
    await asyncio.Event().wait()
    return Response(text="never")


@dataclass(frozen=True)
class Fault:
    name: str
    handler: Callable[[Request], Awaitable[Any]]
    status: int | str  # the status the client gets, or TRUNCATED
    logged: bool  # one error record naming the request, with the cause
    why: str


FAULTS = [
    Fault("raises", _raises, 500, True, "an exception is a 500 whose body says nothing of it"),
    Fault("raises-after-await", _raises_after_suspending, 500, True, "the same once it runs as a task"),
    Fault("own-reset", _own_connection_reset, 500, True, "its own connection's reset is its failure"),
    Fault("stray-cancel", _stray_cancelled_error, 500, True, "nobody cancelled it: a bug, not a disconnect"),
    Fault("cancelled-future", _awaits_a_cancelled_future, 500, True, "awaited something cancelled elsewhere"),
    Fault("sys-exit", _calls_sys_exit, 500, True, "a handler cannot end the server; SIGTERM can"),
    Fault("returns-none", _returns(None), 500, True, "forgot the return statement"),
    Fault("returns-str", _returns("hello"), 500, True, "a str is not a Response"),
    Fault("returns-dict", _returns({"a": 1}), 500, True, "nor is a dict (json_response is)"),
    Fault("returns-class", _returns(Response), 500, True, "the class, not an instance"),
    Fault("returns-http-error", _returns(HTTPNotFound()), 404, False, "a returned HTTPException answers"),
    Fault("header-crlf", _header_with_crlf, 500, True, "response splitting is refused, not sent"),
    Fault("header-not-latin1", _header_not_latin1, 500, True, "a header that cannot be encoded"),
    Fault("header-name-space", _header_name_with_space, 500, True, "a field name is a token"),
    Fault("header-control", _header_with_control, 500, True, "no control characters in a value"),
    Fault("wrong-length", _wrong_content_length, 500, True, "the rest of the body would be the next answer"),
    Fault("own-te", _own_transfer_encoding, 500, True, "framing is the server's: it would be sent twice"),
    Fault("stream-short", _streams_short_of_its_length, TRUNCATED, True, "5 of 10 bytes: a close ends it"),
    Fault("stream-past", _streams_past_its_length, TRUNCATED, True, "write() past the length is refused"),
    Fault("unprepared-bad-stream", _unprepared_stream_with_bad_header, 500, True, "refused before a byte"),
    Fault("stream-header-crlf", _prepares_a_stream_with_crlf_header, 500, True, "prepare() refuses it"),
    Fault("caught-short-eof", _catches_the_short_write_eof, TRUNCATED, True, "still cannot end the message"),
    Fault("caught-long-write", _catches_the_long_write, TRUNCATED, True, "the 2 bytes sent are all there is"),
    Fault("bad-status", _bad_status, 500, True, "Response(status=42) raises in the handler"),
    Fault("interim-status", _returns(Response(status=103)), 500, True, "a 1xx cannot be the answer"),
    Fault("interim-stream", _interim_stream, 500, True, "nor a streamed one"),
    Fault("fails-mid-stream", _fails_mid_stream, TRUNCATED, True, "the head is out: the message is cut off"),
    Fault("blocks", _blocks, 200, False, "blocking the loop delays everyone, loses nothing"),
    Fault("hangs", _hangs, 503, False, "the handler timeout answers 503 and cancels it"),
]


@pytest.fixture(autouse=True)
def no_crash(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Narrows the directory's rule: handler failures are asserted by each test."""
    caplog.set_level(logging.ERROR)
    yield
    crashes = [
        r
        for r in caplog.get_records("call") + caplog.get_records("teardown")
        if r.levelno >= logging.ERROR
        and r.name.split(".")[0] in ("service", "asyncio")
        and not _is_handler_failure(r)
    ]
    assert not crashes, "the server logged errors:\n" + "\n".join(r.getMessage() for r in crashes)


def _is_handler_failure(record: logging.LogRecord) -> bool:
    return record.name == "service.error" and "/fault" in record.getMessage()


def _app() -> Application:
    app = Application(handler_timeout=HANDLER_TIMEOUT)

    async def ok(request: Request) -> Response:
        return Response(text="ok")

    app.router.add_get("/ok", ok)
    for fault in FAULTS:
        app.router.add_get(f"/fault/{fault.name}", fault.handler)
    return app


async def _bystander(conn: Any, answers: list[int], stop: asyncio.Event) -> None:
    """Good requests, one at a time on one keep-alive connection, until told to stop."""
    for _ in range(1000):  # bounded; each round waits for its answer
        if stop.is_set():
            return
        await conn.send(b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        response = await conn.read_response()
        answers.append(response.status)
        await asyncio.sleep(0.005)


async def _wait_for(predicate: Callable[[], bool]) -> None:
    for _ in range(int(TIMEOUT / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached within the bound")


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_a_faulty_handler_gets_its_answer_and_nobody_else_notices(
    fault: Fault, make_server: MakeServer, raw_connect: RawConnect, caplog: pytest.LogCaptureFixture
) -> None:
    server = await make_server(_app())
    answers: list[int] = []
    stop = asyncio.Event()
    bystander = asyncio.ensure_future(_bystander(await raw_connect(server.port), answers, stop))
    try:
        await _wait_for(lambda: len(answers) >= 1)
        conn = await raw_connect(server.port)
        await conn.send(f"GET /fault/{fault.name} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        if fault.status == TRUNCATED:
            raw = await conn.read_until_close()  # the server closes: there is no way to finish
            assert raw.startswith(b"HTTP/1.1 200 OK\r\n"), (fault.why, raw)
            head, _, body = raw.partition(b"\r\n\r\n")
            length = re.search(rb"\r\nContent-Length: (\d+)\r\n", head + b"\r\n")
            if length is not None:  # framed by a length: fewer bytes than it says, no other framing
                assert b"Transfer-Encoding" not in head and len(body) < int(length.group(1)), (fault.why, raw)
            else:
                assert not raw.endswith(b"0\r\n\r\n"), f"{fault.why}: a cut-off stream must not look complete"
        else:
            response = await conn.read_response()
            assert response.status == fault.status, (fault.why, response.raw)
            if fault.status == 500:
                assert response.body == INTERNAL, f"{fault.why}: the cause must not reach the client"
                # Nor any header of the refused response (the CRLF rows would inject one).
                assert b"injected" not in response.raw.lower(), (fault.why, response.raw)
            # The answer was complete: the same connection serves the next request.
            await conn.send(b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert (await conn.read_response()).status == 200, fault.why
        seen = len(answers)
        await _wait_for(lambda: len(answers) >= seen + 3)  # served after the fault, too
    finally:
        stop.set()
        await asyncio.wait_for(bystander, TIMEOUT)
    assert set(answers) == {200}, f"{fault.why}: the bystander got {answers}"
    failures = [r for r in caplog.get_records("call") if _is_handler_failure(r)]
    if fault.logged:
        assert len(failures) == 1, f"{fault.why}: logged {[r.getMessage() for r in failures]}"
        assert f"GET /fault/{fault.name}" in failures[0].getMessage()
    else:
        assert failures == [], fault.why


async def test_a_handler_blocking_the_loop_is_named_in_a_warning(
    make_server: MakeServer, raw_connect: RawConnect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="service.server")

    async def blocker(request: Request) -> Response:
        time.sleep(1.0)  # noqa: ASYNC251 - the mistake under test
        return Response(text="done")

    app = Application()
    app.router.add_get("/block", blocker)
    server = await make_server(app, block_warning=0.2)
    conn = await raw_connect(server.port)
    await conn.send(b"GET /block HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (await conn.read_response()).status == 200  # slow, and answered all the same

    def lines(text: str) -> list[str]:
        return [
            r.getMessage() for r in caplog.records if r.name == "service.server" and text in r.getMessage()
        ]

    await _wait_for(lambda: bool(lines("runs again")))
    # The warning shows the line that blocks, so the mistake can be found. (Other
    # stalls of a slow machine may be reported too; this one must be among them.)
    blocked = lines("has been blocked")
    assert any("in blocker" in m and "time.sleep(1.0)" in m for m in blocked), blocked


async def test_logged_targets_are_as_sent_so_no_log_line_can_be_forged(
    make_server: MakeServer, raw_connect: RawConnect, caplog: pytest.LogCaptureFixture
) -> None:
    """A percent-encoded CR LF, decoded into a log line, would forge the next one
    (uvicorn's CVE-2020-7694). The error and access logs show the target as sent."""
    app = _app()
    app.router.add_get("/fault/named/{name}", _raises)
    access = MemoryLines()
    server = await make_server(app, access_log=AccessLog(access))
    caplog.set_level(logging.INFO)
    conn = await raw_connect(server.port)
    targets = [b"/fault/named/x%0d%0aINJECTED%20line", b"/nope%0D%0AINJECTED?q=%0d%0a"]
    statuses = []
    for target in targets:
        await conn.send(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        statuses.append((await conn.read_response()).status)
    assert statuses == [500, 404]
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("service.")]
    assert any(targets[0].decode() in m for m in messages), messages  # the error log
    assert [m for m in messages if "\r" in m or "\n" in m] == []
    assert [entry["path"] for entry in access.entries()] == [t.decode() for t in targets]  # the access log
    assert len(access.lines) == 2 and all(line.count("\n") == 1 for line in access.lines)


@pytest.mark.parametrize("fault", ["unprepared-bad-stream", "header-crlf"])
async def test_the_access_log_tells_the_status_that_was_sent(
    fault: str, make_server: MakeServer, raw_connect: RawConnect, caplog: pytest.LogCaptureFixture
) -> None:
    """A response the server could not send was answered 500: that is what the log says."""
    access = MemoryLines()
    server = await make_server(_app(), access_log=AccessLog(access))
    conn = await raw_connect(server.port)
    await conn.send(
        f"GET /fault/{fault} HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    assert [(await conn.read_response()).status for _ in range(2)] == [500, 200]
    assert [entry["status"] for entry in access.entries()] == [500, 200], access.lines
