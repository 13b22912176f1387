"""A real ``Server`` on 127.0.0.1:0, driven by httpx and by raw sockets: routing,
requests, streamed responses, raw HTTP/1.1 (pipelining, chunked uploads, 100-continue),
graceful shutdown and start-up. Elsewhere, against a real server too: limits and
timeouts at their edges (``robustness/test_limits.py``), malformed requests
(``robustness/test_parsing.py``), handlers that fail (``robustness/test_faulty_handlers.py``).

Timeouts here are upper bounds so a broken server fails instead of hanging;
nothing asserts how fast anything happens.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from service import (
    Application,
    Request,
    Response,
    RouteTableDef,
    Server,
    StreamResponse,
    json_response,
    middleware,
)
from service.config.schema import ServiceSettings
from service.errors import ListenError
from service.http.server import run_app, serve_until_signal

TIMEOUT = 5.0  # upper bound for any single wait; never a timing assertion
MakeServer = Callable[..., Awaitable[Server]]
RawConnect = Callable[[int], Awaitable[Any]]  # conftest.RawConnection


def build_app() -> Application:
    routes = RouteTableDef()

    @routes.get("/hello")
    async def hello(request: Request) -> Response:
        return Response(text="hello")

    @routes.get("/users/{id:int}")
    async def user(request: Request) -> Response:
        return json_response({k: [v, type(v).__name__] for k, v in request.match_info.items()})

    @routes.get("/items/{u:uuid}/{price:float}/{rest:path}")
    async def item(request: Request) -> Response:
        info = request.match_info
        return json_response(
            {
                "u": [str(info["u"]), type(info["u"]).__name__],
                "price": [info["price"], type(info["price"]).__name__],
                "rest": [info["rest"], type(info["rest"]).__name__],
            }
        )

    @routes.post("/json")
    async def echo_json(request: Request) -> Response:
        return json_response({"got": await request.json()})

    @routes.get("/query")
    async def query(request: Request) -> Response:
        return json_response({"a": request.query.getall("a"), "b": request.query.get("b")})

    @routes.get("/headers")
    async def headers(request: Request) -> Response:
        h = request.headers
        return json_response({"lower": h["x-token"], "upper": h["X-TOKEN"], "mixed": h.get("X-Token")})

    @routes.get("/state")
    async def state(request: Request) -> Response:
        return Response(text=request["user"])

    @routes.get("/stream")
    async def stream(request: Request) -> StreamResponse:
        response = StreamResponse()
        response.content_type = "text/plain"
        await response.prepare(request)
        for part in (b"one ", b"two ", b"three"):
            await response.write(part)
        await response.write_eof()
        return response

    @routes.get("/stream-length")
    async def stream_length(request: Request) -> StreamResponse:
        response = StreamResponse()
        response.content_length = 13
        await response.prepare(request)
        await response.write(b"one two ")
        await response.write(b"three")
        await response.write_eof()
        return response

    @routes.post("/echo")
    async def echo(request: Request) -> Response:
        return Response(body=await request.read())

    @middleware
    async def auth(
        request: Request, handler: Callable[[Request], Awaitable[StreamResponse]]
    ) -> StreamResponse:
        request["user"] = "alice"
        response = await handler(request)
        response.headers["X-Middleware"] = "seen"
        return response

    app = Application(middlewares=[auth])
    app.add_routes(routes)
    return app


@pytest.fixture
async def server(make_server: MakeServer) -> Server:
    return await make_server(build_app())


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as c:
        yield c


def request_bytes(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    head = "\r\n".join([f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]) + "\r\n\r\n"
    return head.encode("latin-1") + body


# -- routing ---------------------------------------------------------------------------------------


async def test_server_reports_its_real_port(server: Server) -> None:
    assert server.host == "127.0.0.1"
    assert server.port > 0


async def test_get_and_middleware_header(client: httpx.AsyncClient) -> None:
    response = await client.get("/hello")
    assert response.status_code == 200
    assert response.text == "hello"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-middleware"] == "seen"


async def test_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.text.startswith("404")


async def test_method_not_allowed_lists_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/hello")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


async def test_head_has_length_but_no_body(server: Server, raw_connect: RawConnect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(request_bytes("HEAD", "/hello") + request_bytes("GET", "/hello"))
    head = await conn.read_response(head_only=True)
    assert head.status == 200
    assert head.header("Content-Length") == "5"
    assert head.body == b""
    after = await conn.read_response()  # the HEAD answer had no body: the next one follows at once
    assert after.status == 200
    assert after.body == b"hello"


async def test_options_lists_allowed_methods(client: httpx.AsyncClient) -> None:
    response = await client.options("/hello")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert response.content == b""


async def test_typed_path_params(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/42")
    assert response.json() == {"id": [42, "int"]}
    assert (await client.get("/users/forty-two")).status_code == 404

    uid = "12345678-1234-5678-1234-567812345678"
    response = await client.get(f"/items/{uid}/9.5/a/b/c.txt")
    assert response.json() == {
        "u": [uid, "UUID"],
        "price": [9.5, "float"],
        "rest": ["a/b/c.txt", "str"],
    }


async def test_json_round_trip(client: httpx.AsyncClient) -> None:
    payload = {"name": "Zoë", "tags": ["a", "b"], "n": 3, "nested": {"ok": True, "none": None}}
    response = await client.post("/json", json=payload)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"got": payload}


async def test_query_multi_valued(client: httpx.AsyncClient) -> None:
    response = await client.get("/query", params=[("a", "1"), ("a", "2"), ("b", "x y"), ("a", "")])
    assert response.json() == {"a": ["1", "2", ""], "b": "x y"}


async def test_headers_case_insensitive(client: httpx.AsyncClient) -> None:
    response = await client.get("/headers", headers={"X-tOkEn": "secret"})
    assert response.json() == {"lower": "secret", "upper": "secret", "mixed": "secret"}


async def test_request_state_through_middleware(client: httpx.AsyncClient) -> None:
    response = await client.get("/state")
    assert response.text == "alice"


# -- streaming -------------------------------------------------------------------------------------


async def test_stream_response_chunked(
    server: Server, client: httpx.AsyncClient, raw_connect: RawConnect
) -> None:
    response = await client.get("/stream")
    assert response.status_code == 200
    assert response.text == "one two three"
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers

    conn = await raw_connect(server.port)
    await conn.send(request_bytes("GET", "/stream") + request_bytes("GET", "/hello"))
    raw = await conn.read_response()
    assert raw.chunked
    assert raw.body == b"one two three"
    assert raw.header("Connection") is None  # still keep-alive
    assert (await conn.read_response()).body == b"hello"


async def test_stream_response_with_content_length(
    server: Server, client: httpx.AsyncClient, raw_connect: RawConnect
) -> None:
    response = await client.get("/stream-length")
    assert response.text == "one two three"
    assert response.headers["content-length"] == "13"
    assert "transfer-encoding" not in response.headers

    conn = await raw_connect(server.port)
    await conn.send(request_bytes("GET", "/stream-length") + request_bytes("GET", "/hello"))
    raw = await conn.read_response()
    assert not raw.chunked
    assert raw.body == b"one two three"
    assert (await conn.read_response()).body == b"hello"


async def test_a_stream_to_an_http10_keep_alive_client_ends_by_closing(server: Server) -> None:
    # HTTP/1.0 has no chunked coding: a stream of unknown length is delimited by the close,
    # even though the client asked to keep the connection alive.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), TIMEOUT)  # EOF: the body ends with the connection
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Connection: close" in head and b"Transfer-Encoding" not in head
    assert body == b"one two three"


async def test_chunked_upload(client: httpx.AsyncClient) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"alpha ", b"beta ", b"gamma"):
            yield part

    response = await client.post("/echo", content=parts())
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 200
    assert response.content == b"alpha beta gamma"


# -- raw HTTP/1.1 ----------------------------------------------------------------------------------


async def test_pipelining_over_a_socket(server: Server, raw_connect: RawConnect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(
        request_bytes("GET", "/users/1")
        + request_bytes("POST", "/echo", "Content-Length: 4", body=b"ping")
        + request_bytes("GET", "/users/2")
    )
    first, second, third = [await conn.read_response() for _ in range(3)]
    assert json.loads(first.body) == {"id": [1, "int"]}
    assert second.body == b"ping"
    assert json.loads(third.body) == {"id": [2, "int"]}


async def test_chunked_upload_over_a_socket(server: Server, raw_connect: RawConnect) -> None:
    conn = await raw_connect(server.port)
    body = b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"
    await conn.send(request_bytes("POST", "/echo", "Transfer-Encoding: chunked", body=body))
    response = await conn.read_response()
    assert response.status == 200
    assert response.body == b"Wikipedia"


async def test_100_continue_over_a_socket(server: Server, raw_connect: RawConnect) -> None:
    conn = await raw_connect(server.port)
    await conn.send(request_bytes("POST", "/echo", "Content-Length: 5", "Expect: 100-continue"))
    interim = await conn.read_response()
    assert interim.status == 100
    assert interim.raw == b"HTTP/1.1 100 Continue\r\n\r\n"
    await conn.send(b"hello")
    response = await conn.read_response()
    assert response.status == 200
    assert response.body == b"hello"


# -- shutdown ----------------------------------------------------------------------------------


def _slow_app(entered: asyncio.Event, release: asyncio.Event, cancelled: asyncio.Event) -> Application:
    routes = RouteTableDef()

    @routes.get("/slow")
    async def slow(request: Request) -> Response:
        entered.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return Response(text="finished")

    app = Application()
    app.add_routes(routes)
    return app


async def test_graceful_shutdown_finishes_request_in_flight(make_server: MakeServer) -> None:
    entered, release, cancelled = asyncio.Event(), asyncio.Event(), asyncio.Event()
    hooks: list[str] = []
    app = _slow_app(entered, release, cancelled)

    async def on_shutdown(app: Application) -> None:
        hooks.append("shutdown")

    async def on_cleanup(app: Application) -> None:
        hooks.append("cleanup")

    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    server = await make_server(app)
    port = server.port

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
        in_flight = asyncio.create_task(client.get("/slow"))
        await asyncio.wait_for(entered.wait(), TIMEOUT)
        stopping = asyncio.create_task(server.shutdown())
        for _ in range(20):
            await asyncio.sleep(0)
        assert hooks == ["shutdown"]
        assert not stopping.done()  # it waits for the busy connection
        with pytest.raises(OSError):  # the listener is closed: no new connections
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
            writer.close()
            await writer.wait_closed()

        release.set()
        response = await asyncio.wait_for(in_flight, TIMEOUT)
        await asyncio.wait_for(stopping, TIMEOUT)

    assert response.status_code == 200
    assert response.text == "finished"
    assert response.headers["connection"] == "close"
    assert not cancelled.is_set()
    assert hooks == ["shutdown", "cleanup"]
    assert server.connections == 0


async def test_shutdown_timeout_cancels_a_hanging_handler(
    make_server: MakeServer, raw_connect: RawConnect
) -> None:
    entered, release, cancelled = asyncio.Event(), asyncio.Event(), asyncio.Event()
    server = await make_server(_slow_app(entered, release, cancelled), shutdown_timeout=0.2)
    conn = await raw_connect(server.port)
    await conn.send(request_bytes("GET", "/slow"))
    await asyncio.wait_for(entered.wait(), TIMEOUT)

    await asyncio.wait_for(server.shutdown(), TIMEOUT)  # the handler never finishes by itself
    await asyncio.wait_for(cancelled.wait(), TIMEOUT)
    assert await conn.read_until_close() == b""  # dropped without a response
    assert server.connections == 0


async def test_idle_connections_close_at_shutdown(make_server: MakeServer, raw_connect: RawConnect) -> None:
    server = await make_server(build_app())
    conn = await raw_connect(server.port)
    await conn.send(request_bytes("GET", "/hello"))
    assert (await conn.read_response()).status == 200
    await asyncio.wait_for(server.shutdown(), TIMEOUT)
    assert await conn.at_eof()


# -- starting: bind, then on_startup hooks, then accept -------------------------------------------------
def _hooked_app(ran: list[str], *, fail: bool = False) -> Application:
    """``build_app()`` whose lifecycle hooks note that they ran in ``ran``."""
    app = build_app()

    def hook(name: str) -> Callable[[Application], Awaitable[None]]:
        async def run(app: Application) -> None:
            ran.append(name)
            if fail and name == "startup":
                raise RuntimeError("the database is down")

        return run

    app.on_startup.append(hook("startup"))
    app.on_shutdown.append(hook("shutdown"))
    app.on_cleanup.append(hook("cleanup"))
    return app


async def test_a_port_in_use_fails_before_any_hook_runs(busy_port: int) -> None:
    ran: list[str] = []
    server = Server(_hooked_app(ran), host="127.0.0.1", port=busy_port)
    with pytest.raises(
        ListenError, match=rf"^cannot serve on 127\.0\.0\.1:{busy_port}: (?i:address already in use)"
    ):
        await asyncio.wait_for(serve_until_signal(server, handle_signals=False), TIMEOUT)
    assert ran == []  # no startup hook opened anything, so no cleanup hook closes anything either


@pytest.mark.parametrize("listen", ["host and port", "a socket bound by the caller"])
async def test_startup_hooks_run_once_the_port_is_bound(listen: str) -> None:
    ran: list[str] = []
    seen_port: list[int] = []
    app = _hooked_app(ran)
    sock = None
    if listen == "a socket bound by the caller":  # as the supervisor of --workers hands it over
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
    server = Server(app, host="127.0.0.1", port=0, sock=sock)

    async def note_port(app: Application) -> None:
        seen_port.append(server.port)

    app.on_startup.append(note_port)
    try:
        await asyncio.wait_for(server.start(), TIMEOUT)
        assert seen_port == [server.port] and server.port != 0  # the hooks ran with the port bound
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as client:
            assert (await client.get("/hello")).text == "hello"
    finally:
        await asyncio.wait_for(server.shutdown(), TIMEOUT + server.shutdown_timeout)
        if sock is not None:
            sock.close()
    assert ran == ["startup", "shutdown", "cleanup"]


async def test_a_failing_startup_hook_closes_the_listening_socket() -> None:
    ran: list[str] = []
    server = Server(_hooked_app(ran, fail=True), host="127.0.0.1", port=0)
    with pytest.raises(RuntimeError, match="the database is down"):
        await asyncio.wait_for(serve_until_signal(server, handle_signals=False), TIMEOUT)
    assert ran == ["startup", "shutdown", "cleanup"]  # what the hooks opened is closed
    with pytest.raises(ConnectionRefusedError):
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", server.port), TIMEOUT)
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize("key", ["host", "port", "shutdown_timeout", "access_log"])
def test_run_app_server_and_routes_yaml_default_alike(key: str) -> None:
    """A setting left out is the same whether the app is served by code or by routes.yaml."""
    default = getattr(ServiceSettings(), key)
    assert inspect.signature(run_app).parameters[key].default == default
    assert inspect.signature(Server).parameters[key].default == default
