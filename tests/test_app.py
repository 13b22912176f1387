"""Application: routing, middlewares, hooks, state -- and the error boundary for handlers.

Requests are real ``service.web.request.Request`` objects on a stub connection, sent
through ``Application.handle``, the one entry point the protocol uses. No sockets.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from service.web.app import Application, Middleware, middleware
from service.web.httpexc import (
    HTTPBadRequest,
    HTTPConflict,
    HTTPException,
    HTTPForbidden,
    HTTPMethodNotAllowed,
    HTTPNotFound,
)
from service.web.request import HTTP11, Request
from service.web.response import Response, StreamResponse, json_response
from service.web.routedef import Handler, RouteTableDef


class StubConnection:
    """Just what ``Request`` needs from a connection."""

    remote = "127.0.0.1"
    connected = True  # a test may say the client went away

    def begin_response(self, request: Request, response: StreamResponse) -> tuple[Any, bool, bool, bool]:
        return self, request.keep_alive, False, request.method == "HEAD"

    def response_started(self, request: Request, response: StreamResponse, keep_alive: bool) -> None:
        request.keep_alive = keep_alive

    def want_body(self, request: Request, expect_continue: bool) -> None:
        pass

    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass


def make_request(app: Application, method: str, path: str, query: str = "") -> Request:
    target = f"{path}?{query}" if query else path
    return Request(
        method,
        target.encode(),
        path,
        query,
        [(b"Host", b"127.0.0.1")],
        HTTP11,
        True,
        StubConnection(),
        app,
    )


async def send(app: Application, method: str, path: str, query: str = "") -> Response:
    """Freeze the app (as startup does) and run one request through it."""
    app.freeze()
    response = await app.handle(make_request(app, method, path, query))
    assert isinstance(response, Response)
    return response


async def hello(request: Request) -> Response:
    return Response(text=f"hello {request.match_info.get('name', 'world')}")


def service_error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "service.error"]


# -- routing through the app ------------------------------------------------------------------------
async def test_handler_response_is_returned_with_match_info_and_route() -> None:
    seen: dict[str, Any] = {}

    async def user(request: Request) -> Response:
        seen["route"] = request.route
        seen["match_info"] = request.match_info
        seen["query"] = request.query.getall("tag")
        return json_response({"id": request.match_info["id"]})

    app = Application()
    route = app.router.add_get("/users/{id:int}", user)
    response = await send(app, "GET", "/users/7", query="tag=a&tag=b")
    assert response.status == 200
    assert response.body == b'{"id": 7}'
    assert seen == {"route": route, "match_info": {"id": 7}, "query": ["a", "b"]}


async def test_route_table_def_routes_are_added_with_names() -> None:
    routes = RouteTableDef()

    @routes.get("/hello/{name}", name="greet")
    async def greet(request: Request) -> Response:
        return await hello(request)

    @routes.post("/hello")
    async def post(request: Request) -> Response:
        return Response(status=201)

    app = Application()
    added = app.add_routes(routes)
    assert [(r.method, r.path) for r in added] == [("GET", "/hello/{name}"), ("POST", "/hello")]
    assert app.router.url_for("greet", name="bob") == "/hello/bob"
    assert (await send(app, "GET", "/hello/bob")).text == "hello bob"
    assert (await send(app, "POST", "/hello")).status == 201


async def test_head_runs_the_get_handler() -> None:
    app = Application()
    app.router.add_get("/", hello)
    response = await send(app, "HEAD", "/")
    assert response.status == 200
    assert response.text == "hello world"  # the connection drops the body for HEAD


async def test_unknown_path_is_404() -> None:
    app = Application()
    app.router.add_get("/", hello)
    response = await send(app, "GET", "/nope")
    assert (response.status, response.text) == (404, "404: Not Found")


@pytest.mark.parametrize(
    ("routes", "method", "allow"),
    [
        pytest.param([("POST", "/x")], "GET", "OPTIONS, POST", id="post-only"),
        pytest.param([("GET", "/x")], "DELETE", "GET, HEAD, OPTIONS", id="get-implies-head"),
        pytest.param([("GET", "/x"), ("PUT", "/x")], "PATCH", "GET, HEAD, OPTIONS, PUT", id="several"),
    ],
)
async def test_wrong_method_is_405_with_allow(routes: list[tuple[str, str]], method: str, allow: str) -> None:
    app = Application()
    for route_method, path in routes:
        app.router.add_route(route_method, path, hello)
    response = await send(app, method, "/x")
    assert response.status == 405
    assert response.headers["Allow"] == allow
    assert response.text == "405: Method Not Allowed"


async def test_options_without_a_route_is_204_with_allow() -> None:
    app = Application()
    app.router.add_get("/items/{id:int}", hello)
    app.router.add_delete("/items/{id:int}", hello)
    response = await send(app, "OPTIONS", "/items/3")
    assert response.status == 204
    assert response.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS"
    assert response.body == b""


async def test_options_on_an_unknown_path_is_404() -> None:
    app = Application()
    app.router.add_get("/x", hello)
    assert (await send(app, "OPTIONS", "/y")).status == 404


async def test_explicit_options_route_runs_its_handler() -> None:
    async def options(request: Request) -> Response:
        return Response(status=200, headers={"Allow": "custom"})

    app = Application()
    app.router.add_get("/x", hello)
    app.router.add_options("/x", options)
    response = await send(app, "OPTIONS", "/x")
    assert (response.status, response.headers["Allow"]) == (200, "custom")


# -- middlewares ------------------------------------------------------------------------------------
def recording_middleware(name: str, log: list[str]) -> Any:
    @middleware
    async def mw(request: Request, handler: Handler) -> StreamResponse:
        log.append(f"{name} in {request.method} {request.path}")
        try:
            return await handler(request)
        finally:
            log.append(f"{name} out")

    return mw


async def test_middlewares_run_in_order_first_outermost() -> None:
    log: list[str] = []

    async def handler(request: Request) -> Response:
        log.append("handler")
        return Response(text="ok")

    app = Application(middlewares=[recording_middleware("a", log), recording_middleware("b", log)])
    app.router.add_get("/", handler)
    response = await send(app, "GET", "/")
    assert response.text == "ok"
    assert log == ["a in GET /", "b in GET /", "handler", "b out", "a out"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/missing", 404, id="404"),
        pytest.param("POST", "/", 405, id="405"),
        pytest.param("OPTIONS", "/", 204, id="options"),
    ],
)
async def test_middlewares_see_requests_that_match_no_route(method: str, path: str, status: int) -> None:
    log: list[str] = []
    app = Application(middlewares=[recording_middleware("a", log), recording_middleware("b", log)])
    app.router.add_get("/", hello)
    response = await send(app, method, path)
    assert response.status == status
    assert log == [f"a in {method} {path}", f"b in {method} {path}", "b out", "a out"]


async def test_middleware_can_replace_the_404() -> None:
    @middleware
    async def friendly_404(request: Request, handler: Handler) -> StreamResponse:
        try:
            return await handler(request)
        except HTTPNotFound:
            return json_response({"error": "not found", "path": request.path}, status=404)

    app = Application(middlewares=[friendly_404])
    app.router.add_get("/", hello)
    response = await send(app, "GET", "/nope")
    assert response.status == 404
    assert response.body == b'{"error": "not found", "path": "/nope"}'


async def test_middleware_can_answer_without_calling_the_handler() -> None:
    called = []

    async def secret(request: Request) -> Response:
        called.append(True)
        return Response(text="secret")

    async def deny(request: Request, handler: Handler) -> StreamResponse:
        raise HTTPForbidden()

    app = Application(middlewares=[deny])
    app.router.add_get("/secret", secret)
    response = await send(app, "GET", "/secret")
    assert (response.status, response.text) == (403, "403: Forbidden")
    assert called == []


async def test_middleware_can_change_the_response_and_share_request_state() -> None:
    async def tag(request: Request, handler: Handler) -> StreamResponse:
        request["user"] = "alice"
        response = await handler(request)
        response.headers["X-User"] = request["user"]
        return response

    async def whoami(request: Request) -> Response:
        return Response(text=request["user"])

    app = Application(middlewares=[tag])
    app.router.add_get("/me", whoami)
    response = await send(app, "GET", "/me")
    assert (response.text, response.headers["X-User"]) == ("alice", "alice")


def test_middleware_decorator_returns_the_function() -> None:
    async def mw(request: Request, handler: Handler) -> StreamResponse:
        return await handler(request)

    assert middleware(mw) is mw


# -- the error boundary -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("exc", "status", "text"),
    [
        pytest.param(HTTPBadRequest(text="missing field 'name'"), 400, "missing field 'name'", id="400"),
        pytest.param(HTTPNotFound(), 404, "404: Not Found", id="404"),
        pytest.param(HTTPConflict(), 409, "409: Conflict", id="409"),
        pytest.param(HTTPException(status=418), 418, "418: I'm a Teapot", id="418"),
    ],
)
@pytest.mark.parametrize("how", ["raise", "return"])
async def test_http_exception_raised_or_returned_becomes_its_response(
    exc: HTTPException, status: int, text: str, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: Request) -> Any:
        if how == "raise":
            raise exc
        return exc

    app = Application()
    app.router.add_get("/", handler)
    response = await send(app, "GET", "/")
    assert (response.status, response.text) == (status, text)
    assert service_error_records(caplog) == []


async def test_http_exception_headers_reach_the_response() -> None:
    async def handler(request: Request) -> Response:
        raise HTTPMethodNotAllowed("PUT", ["GET"], headers={"X-Reason": "read-only"})

    app = Application()
    app.router.add_get("/", handler)
    response = await send(app, "GET", "/")
    assert response.status == 405
    assert response.headers["Allow"] == "GET"
    assert response.headers["X-Reason"] == "read-only"


async def test_unexpected_exception_is_a_generic_500_with_the_traceback_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def boom(request: Request) -> Response:
        raise ValueError("database password is hunter2")

    app = Application()
    app.router.add_get("/boom", boom)
    with caplog.at_level(logging.ERROR, logger="service.error"):
        response = await send(app, "GET", "/boom")
    assert response.status == 500
    assert response.text == "500: Internal Server Error"
    assert b"hunter2" not in response.body
    [record] = service_error_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "Error handling GET /boom"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)
    assert "hunter2" in caplog.text  # the traceback is in the log, not in the response


async def test_exception_in_a_middleware_is_a_500_too(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(request: Request, handler: Handler) -> StreamResponse:
        raise KeyError("oops")

    app = Application(middlewares=[broken])
    app.router.add_get("/", hello)
    with caplog.at_level(logging.ERROR, logger="service.error"):
        response = await send(app, "GET", "/")
    assert (response.status, response.text) == (500, "500: Internal Server Error")
    assert len(service_error_records(caplog)) == 1


async def _stamp(request: Request, handler: Handler) -> StreamResponse:
    """Like the example's timing middleware: it touches the handler's response."""
    response = await handler(request)
    response.headers["X-Stamp"] = "1"
    return response


@pytest.mark.parametrize("middlewares", [[], [_stamp]], ids=["bare", "under-a-middleware"])
@pytest.mark.parametrize(
    ("returned", "what"), [(None, "None"), ({"a": 1}, "dict"), ("text", "str"), (b"bytes", "bytes")]
)
async def test_returning_a_non_response_is_a_500_blamed_on_the_handler(
    returned: object, what: str, middlewares: list[Middleware], caplog: pytest.LogCaptureFixture
) -> None:
    async def bad_handler(request: Request) -> Any:
        return returned

    app = Application(middlewares=middlewares)
    app.router.add_get("/bad", bad_handler)
    with caplog.at_level(logging.ERROR, logger="service.error"):
        response = await send(app, "GET", "/bad")
    assert (response.status, response.text) == (500, "500: Internal Server Error")
    [record] = service_error_records(caplog)
    # The handler's name and what it returned -- never the value (it may hold secrets),
    # and never a middleware's AttributeError.
    expected = (
        f"{__name__}.test_returning_a_non_response_is_a_500_blamed_on_the_handler.<locals>.bad_handler"
        f" returned {what}, expected a Response (use web.Response(...) or web.json_response(...))"
    )
    text = record.getMessage() + (f": {record.exc_info[1]}" if record.exc_info else "")
    assert text == f"Error handling GET /bad: {expected}"
    assert "AttributeError" not in caplog.text


async def test_a_returned_http_exception_reaches_middlewares_unchecked() -> None:
    async def gone(request: Request) -> Any:
        return HTTPNotFound(text="gone")

    app = Application(middlewares=[_stamp])
    app.router.add_get("/gone", gone)
    response = await send(app, "GET", "/gone")
    assert (response.status, response.text, response.headers["X-Stamp"]) == (404, "gone", "1")


async def test_a_stream_response_is_returned_as_is() -> None:
    stream = StreamResponse(status=202)

    async def handler(request: Request) -> StreamResponse:
        return stream

    app = Application()
    app.router.add_get("/", handler)
    app.freeze()
    assert await app.handle(make_request(app, "GET", "/")) is stream


async def _raise_reset(request: Request) -> Response:
    raise ConnectionResetError("connection reset")


async def _raise_cancelled(request: Request) -> Response:
    raise asyncio.CancelledError


async def _raise_system_exit(request: Request) -> Response:
    raise SystemExit(3)


async def _raise_keyboard_interrupt(request: Request) -> Response:
    raise KeyboardInterrupt


async def _await_a_cancelled_future(request: Request) -> Response:
    future = asyncio.get_running_loop().create_future()
    future.cancel()
    return await future  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("handler", "client_connected", "expected"),
    [
        # read() or write() found the client gone: nobody to answer, nothing to log.
        pytest.param(_raise_reset, False, ConnectionResetError, id="reset-client-gone"),
        # The handler's own connection (a database, a backend) was reset: its failure.
        pytest.param(_raise_reset, True, 500, id="reset-of-the-handlers-own-connection"),
        # Nobody cancelled the handler: a stray CancelledError is its bug.
        pytest.param(_raise_cancelled, True, 500, id="stray-cancelled-error"),
        pytest.param(_await_a_cancelled_future, True, 500, id="awaited-a-cancelled-future"),
        # A handler cannot end the server by itself; a signal can.
        pytest.param(_raise_system_exit, True, 500, id="system-exit"),
        # Ctrl-C landing while the handler runs is not its doing: it goes on stopping the program.
        pytest.param(_raise_keyboard_interrupt, True, KeyboardInterrupt, id="keyboard-interrupt"),
    ],
)
async def test_which_resets_and_cancellations_are_a_handler_failure(
    caplog: pytest.LogCaptureFixture, handler: Handler, client_connected: bool, expected: Any
) -> None:
    app = Application()
    app.router.add_get("/", handler)
    app.freeze()
    request = make_request(app, "GET", "/")
    request.protocol.connected = client_connected  # type: ignore[misc]
    with caplog.at_level(logging.ERROR, logger="service.error"):
        if expected == 500:
            response = await app.handle(request)
            assert (response.status, response.text) == (500, "500: Internal Server Error")  # type: ignore[attr-defined]
            assert len(service_error_records(caplog)) == 1
        else:
            with pytest.raises(expected):
                await app.handle(request)
            assert service_error_records(caplog) == []


async def test_a_handler_the_server_cancels_is_not_answered_with_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    entered = asyncio.Event()

    async def hang(request: Request) -> Response:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("not reached")

    app = Application()
    app.router.add_get("/", hang)
    app.freeze()
    task = asyncio.ensure_future(app.handle(make_request(app, "GET", "/")))
    await entered.wait()
    task.cancel()  # what a forced shutdown does
    with pytest.raises(asyncio.CancelledError):
        await task
    assert service_error_records(caplog) == []


async def test_an_http_exception_that_cannot_be_rendered_still_gets_a_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(request: Request) -> Response:
        raise HTTPBadRequest(text="bad", body=b"bad")  # a handler bug: both text and body

    app = Application()
    app.router.add_get("/", handler)
    with caplog.at_level(logging.ERROR, logger="service.error"):
        response = await send(app, "GET", "/")
    assert (response.status, response.text) == (500, "500: Internal Server Error")
    assert len(service_error_records(caplog)) == 1


# -- lifecycle hooks ------------------------------------------------------------------------------------
async def test_hooks_run_with_the_app_in_their_order() -> None:
    app = Application()
    calls: list[tuple[str, bool]] = []

    def hook(name: str) -> Any:
        async def run(a: Application) -> None:
            assert a is app
            calls.append((name, a.frozen))

        return run

    app.on_startup.extend([hook("start 1"), hook("start 2")])
    app.on_shutdown.extend([hook("shutdown 1"), hook("shutdown 2")])
    app.on_cleanup.extend([hook("cleanup 1"), hook("cleanup 2")])

    await app.startup()
    await app.shutdown()
    await app.cleanup()
    assert calls == [
        ("start 1", True),
        ("start 2", True),
        ("shutdown 1", True),
        ("shutdown 2", True),
        # every list runs in registration order, as in aiohttp
        ("cleanup 1", True),
        ("cleanup 2", True),
    ]


async def test_startup_hook_can_fill_app_state_for_handlers() -> None:
    async def connect(app: Application) -> None:
        app["db"] = {"users": ["alice"]}

    async def users(request: Request) -> Response:
        return json_response(request.app["db"]["users"])

    app = Application()
    app.router.add_get("/users", users)
    app.on_startup.append(connect)
    await app.startup()
    assert (await send(app, "GET", "/users")).body == b'["alice"]'


async def test_startup_freezes_routes() -> None:
    app = Application()
    app.router.add_get("/", hello)
    assert not app.frozen
    await app.startup()
    assert app.frozen
    with pytest.raises(RuntimeError, match="frozen"):
        app.router.add_get("/late", hello)


async def test_a_failing_startup_hook_propagates() -> None:
    async def fail(app: Application) -> None:
        raise OSError("cannot reach the database")

    app = Application()
    app.on_startup.append(fail)
    with pytest.raises(OSError, match="database"):
        await app.startup()


# -- state mapping ------------------------------------------------------------------------------------
def test_app_is_a_mapping_for_state() -> None:
    app = Application()
    assert len(app) == 0
    app["db"] = "pool"
    app["cache"] = {}
    assert app["db"] == "pool"
    assert "db" in app
    assert list(app) == ["db", "cache"]
    assert len(app) == 2
    assert app.get("missing") is None
    del app["db"]
    assert "db" not in app
    with pytest.raises(KeyError):
        app["db"]


def test_apps_compare_by_identity_and_are_hashable() -> None:
    first, second = Application(), Application()
    assert first == first
    assert first != second  # even though both are empty mappings
    assert len({first: 1, second: 2}) == 2


def test_app_defaults_and_repr() -> None:
    app = Application(client_max_size=10)
    app.router.add_get("/", hello)
    assert app.client_max_size == 10
    assert app.middlewares == []
    assert repr(app) == "<Application routes=1>"


@pytest.mark.parametrize(
    ("fields", "content_type", "charset"),
    [
        ([], "application/octet-stream", None),
        ([(b"Content-Type", b"application/json")], "application/json", None),
        ([(b"content-type", b'Text/HTML; Charset="UTF-8"')], "text/html", "utf-8"),
        ([(b"CONTENT-TYPE", b" application/problem+json ; q=1")], "application/problem+json", None),
        (
            [(b"Content-Type", b"text/plain"), (b"Content-Type", b"text/html")],
            "text/plain",
            None,
        ),  # the first
        ([(b"X-Content-Type", b"text/html")], "application/octet-stream", None),
    ],
    ids=["none", "json", "case-and-charset", "spaces", "two-fields", "other-field"],
)
def test_content_type_and_charset_agree_with_headers(
    fields: list[tuple[bytes, bytes]], content_type: str, charset: str | None
) -> None:
    # Read straight from the raw fields (PERF), then again once headers is built.
    request = Request(
        "POST", b"/", "/", "", [(b"Host", b"x"), *fields], HTTP11, True, StubConnection(), Application()
    )
    assert (request.content_type, request.charset) == (content_type, charset)
    assert len(request.headers) == 1 + len(fields)  # built now: the same answers from it
    assert (request.content_type, request.charset) == (content_type, charset)
