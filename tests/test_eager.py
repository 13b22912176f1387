"""Handlers run eagerly (no Task until they suspend) yet behave as in a Task.

What a user could notice if the eager path were wrong: ``asyncio.timeout()`` or
``TaskGroup`` failing or cancelling the wrong thing, context variables leaking
between requests, or different bytes from a handler that awaits something.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
from collections.abc import Awaitable, Callable
from typing import Any

from serving import MemoryLines

from service import Application, Request, Response, Server, StreamResponse, middleware
from service.ops.accesslog import AccessLog

RawConnection = Any  # conftest.RawConnection (tests are not a package)

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


async def timeout_without_waiting(request: Request) -> Response:
    async with asyncio.timeout(5):  # needs asyncio.current_task() during the eager step
        return Response(text="fine")


async def timeout_that_expires(request: Request) -> Response:
    try:
        async with asyncio.timeout(0.05):
            await asyncio.sleep(30)
    except TimeoutError:
        return Response(status=504, text="timed out")
    return Response(text="slept")


async def task_group(request: Request) -> Response:
    async def child() -> str:
        await asyncio.sleep(0)
        return "child"

    async with asyncio.TaskGroup() as group:
        task = group.create_task(child())
    return Response(text=task.result())


async def same_task(request: Request) -> Response:
    before = asyncio.current_task()
    await asyncio.sleep(0)
    after = asyncio.current_task()
    return Response(text=str(before is not None and before is after))


async def context_var(request: Request) -> Response:
    seen = request_id.get()
    request_id.set(request.query.get("id", "none"))
    await asyncio.sleep(0.01)
    return Response(text=f"{seen}->{request_id.get()}")


async def sync_hello(request: Request) -> Response:
    return Response(text="same bytes", headers={"X-A": "1"})


async def suspending_hello(request: Request) -> Response:
    await asyncio.sleep(0)
    return Response(text="same bytes", headers={"X-A": "1"})


async def suspending_stream(request: Request) -> StreamResponse:
    response = StreamResponse()
    await response.prepare(request)
    await asyncio.sleep(0)
    await response.write(b"streamed")
    await response.write_eof()
    return response


@middleware
async def tag(request: Request, handler: Callable[[Request], Awaitable[StreamResponse]]) -> StreamResponse:
    response = await handler(request)
    response.headers["X-Context"] = request_id.get()
    return response


def build() -> Application:
    app = Application(middlewares=[tag])
    for path, handler in {
        "/timeout-ok": timeout_without_waiting,
        "/timeout-expires": timeout_that_expires,
        "/task-group": task_group,
        "/same-task": same_task,
        "/ctx": context_var,
        "/sync": sync_hello,
        "/suspending": suspending_hello,
        "/stream": suspending_stream,
    }.items():
        app.router.add_get(path, handler)
    return app


def _strip_date(raw: bytes) -> bytes:
    return re.sub(rb"Date: [^\r]*\r\n", b"", raw)


async def test_asyncio_timeout_and_taskgroup_work_in_handlers(
    make_server: Callable[..., Awaitable[Server]], raw_connect: Callable[[int], Awaitable[RawConnection]]
) -> None:
    server = await make_server(build())
    conn = await raw_connect(server.port)
    for path, status, body in [
        ("/timeout-ok", 200, b"fine"),
        ("/timeout-expires", 504, b"timed out"),  # the timeout cancelled the handler, not something else
        ("/task-group", 200, b"child"),
        ("/same-task", 200, b"True"),
        ("/timeout-ok", 200, b"fine"),  # and the connection is still good after all that
    ]:
        await conn.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        response = await conn.read_response()
        assert (response.status, response.body) == (status, body), path


async def test_context_variables_do_not_leak_between_requests(
    make_server: Callable[..., Awaitable[Server]], raw_connect: Callable[[int], Awaitable[RawConnection]]
) -> None:
    server = await make_server(build())
    first, second = await raw_connect(server.port), await raw_connect(server.port)
    # Two requests in flight at once on two connections, then one more on the first.
    await first.send(b"GET /ctx?id=a HTTP/1.1\r\nHost: t\r\n\r\n")
    await second.send(b"GET /ctx?id=b HTTP/1.1\r\nHost: t\r\n\r\n")
    a, b = await first.read_response(), await second.read_response()
    await first.send(b"GET /ctx?id=c HTTP/1.1\r\nHost: t\r\n\r\n")
    c = await first.read_response()
    assert [a.body, b.body, c.body] == [b"unset->a", b"unset->b", b"unset->c"]
    # The middleware runs in the same context as its handler.
    assert [a.header("X-Context"), b.header("X-Context"), c.header("X-Context")] == ["a", "b", "c"]


async def test_a_suspending_handler_sends_the_same_bytes_as_a_synchronous_one(
    make_server: Callable[..., Awaitable[Server]], raw_connect: Callable[[int], Awaitable[RawConnection]]
) -> None:
    server = await make_server(build())
    conn = await raw_connect(server.port)
    await conn.send(b"GET /sync HTTP/1.1\r\nHost: t\r\n\r\n")
    sync = await conn.read_response()
    await conn.send(b"GET /suspending HTTP/1.1\r\nHost: t\r\n\r\n")
    suspending = await conn.read_response()
    assert _strip_date(sync.raw) == _strip_date(suspending.raw)
    assert sync.header("X-Context") == "unset"


async def test_pipelined_requests_stay_in_order_when_the_first_suspends(
    make_server: Callable[..., Awaitable[Server]], raw_connect: Callable[[int], Awaitable[RawConnection]]
) -> None:
    server = await make_server(build())
    conn = await raw_connect(server.port)
    await conn.send(
        b"GET /timeout-expires HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /sync HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /same-task HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    bodies = [(await conn.read_response()).body for _ in range(4)]
    assert bodies == [b"timed out", b"same bytes", b"streamed", b"True"]


async def test_static_and_dynamic_routes_and_the_access_log_path_send_the_same_bytes(
    make_server: Callable[..., Awaitable[Server]], raw_connect: Callable[[int], Awaitable[RawConnection]]
) -> None:
    # The fast paths (static dict lookup, whole-response write without a coroutine)
    # and the general ones (dynamic regex match, the access-logged send) must agree.
    app = Application()
    app.router.add_get("/static/x", sync_hello)
    app.router.add_get("/dynamic/{name}", sync_hello)
    plain = await make_server(app)
    logged_app = Application()
    logged_app.router.add_get("/static/x", sync_hello)
    logged = await make_server(logged_app, access_log=AccessLog(MemoryLines()), request_ids=False)
    raws = []
    for server, path in [(plain, "/static/x"), (plain, "/dynamic/x"), (logged, "/static/x")]:
        conn = await raw_connect(server.port)
        await conn.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        raws.append(_strip_date((await conn.read_response()).raw))
    assert raws[0] == raws[1] == raws[2]
