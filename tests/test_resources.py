"""Resources (aiohttp's view of the table: paths with names and routes) and ``expect_handler``.

``router.add_resource(path, name=)`` and ``resource.add_route(method, handler)``;
``router[name].url_for(...)`` returns a ``URL`` -- a ``str`` with yarl's common
parts (aiohttp returns a ``yarl.URL``); ``resources()``, ``named_resources()``,
``routes()``, ``canonical`` and ``get_info()``.

A route's ``expect_handler`` runs first for a request sent with ``Expect``: what it
returns or raises is the answer, and no ``100 Continue`` goes out; None lets the
handler run, and ``100 Continue`` goes out when it reads the body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from conftest import RawConnection

from service import Application, Request, RouteError, Server, web
from service.web.resources import URL, DynamicResource, PlainResource

MakeServer = Callable[..., Awaitable[Server]]
RawConnect = Callable[[int], Awaitable[RawConnection]]


async def ok(request: Request) -> web.Response:
    return web.Response(text="ok")


# -- resources --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "kind", "canonical", "info"),
    [
        ("/health", PlainResource, "/health", {"path": "/health"}),
        ("/users/{id}", DynamicResource, "/users/{id}", {"formatter": "/users/{id}"}),
        ("/users/{id:int}/posts/{slug:[a-z]+}", DynamicResource, "/users/{id}/posts/{slug}", {}),
    ],
)
def test_resource_kind_canonical_and_info(
    path: str, kind: type, canonical: str, info: dict[str, Any]
) -> None:
    router = web.Router()
    resource = router.add_resource(path, name="r")
    assert type(resource) is kind
    assert resource.canonical == canonical
    assert info.items() <= resource.get_info().items()
    assert resource.raw_match(path) and not resource.raw_match(path + "x")


def test_add_resource_then_add_route_per_method() -> None:
    router = web.Router()
    users = router.add_resource("/users/{id}", name="user")
    get = users.add_route("GET", ok)
    put = users.add_route("PUT", ok)
    assert [r.method for r in users] == ["GET", "PUT"] and len(users) == 2
    assert get.resource is users and put.name == "user"
    assert router.add_resource("/users/{id}") is users  # the same path: the same resource
    assert router["user"] is users
    assert dict(router.named_resources()) == {"user": users}
    assert router.resources() == (users,)
    assert router.routes() == (get, put)
    with pytest.raises(RouteError, match="duplicate route GET /users/{id}"):
        users.add_route("GET", ok)


def test_a_name_is_for_one_path_but_every_method_of_it() -> None:
    router = web.Router()
    router.add_get("/items", ok, name="items")
    router.add_post("/items", ok, name="items")  # one resource, two methods: fine (as aiohttp)
    assert [r.method for r in router["items"]] == ["GET", "POST"]
    with pytest.raises(RouteError, match="route name 'items' already used by GET /items"):
        router.add_get("/other", ok, name="items")
    with pytest.raises(RouteError, match="already used"):
        router.add_resource("/other", name="items")
    with pytest.raises(KeyError, match="no route named 'nope'"):
        router["nope"]


@pytest.mark.parametrize(
    ("path", "parts", "url"),
    [
        ("/health", {}, "/health"),
        ("/users/{id:int}", {"id": 7}, "/users/7"),
        ("/files/{rest:path}", {"rest": "a b/c.txt"}, "/files/a%20b/c.txt"),
        ("/q/{word}", {"word": "a?b"}, "/q/a%3Fb"),
    ],
)
def test_url_for_returns_a_url_that_is_a_str(path: str, parts: dict[str, Any], url: str) -> None:
    router = web.Router()
    route = router.add_get(path, ok, name="target")
    made = router["target"].url_for(**parts)
    assert isinstance(made, URL) and isinstance(made, str)
    assert made == url == router.url_for("target", **parts) == route.url_for(**parts)
    assert made.raw_path == url


def test_url_parts_and_with_query() -> None:
    url = URL("/files/a%20b")
    assert url.path == "/files/a b"
    assert url.query_string == ""
    paged = url.with_query({"page": 2, "q": "x y"})
    assert paged == "/files/a%20b?page=2&q=x+y"
    assert paged.query["q"] == "x y" and paged.raw_path == "/files/a%20b"
    assert paged.with_query(None) == "/files/a%20b"
    assert url.with_query(a="1") == "/files/a%20b?a=1"
    assert url.with_query("x=1") == "/files/a%20b?x=1"


def test_url_for_refuses_values_that_would_not_match() -> None:
    router = web.Router()
    router.add_get("/users/{id:int}", ok, name="user")
    with pytest.raises(ValueError, match="does not match"):
        router["user"].url_for(id="abc")
    with pytest.raises(ValueError, match="takes parameters"):
        router["user"].url_for()


def test_resources_are_closed_once_frozen() -> None:
    app = Application()
    users = app.router.add_resource("/users")
    app.freeze()
    with pytest.raises(RuntimeError, match="frozen"):
        users.add_route("GET", ok)
    with pytest.raises(RuntimeError, match="frozen"):
        app.router.add_resource("/more")


async def test_routes_added_through_a_resource_are_served(
    make_server: MakeServer, raw_connect: RawConnect
) -> None:
    app = Application()
    app.router.add_resource("/r/{x}", name="r").add_route("GET", ok)
    server = await make_server(app)
    conn = await raw_connect(server.port)
    await conn.send(b"GET /r/1 HTTP/1.1\r\nHost: x\r\n\r\n")
    response = await conn.read_response()
    assert (response.status, response.body) == (200, b"ok")


# -- expect_handler -----------------------------------------------------------------------------------
seen: list[str] = []


async def echo(request: Request) -> web.Response:
    seen.append("handler")
    return web.Response(body=await request.read())


async def refuse_unless_allowed(request: Request) -> web.Response | None:
    seen.append("expect")
    if request.headers.get("X-Allowed") != "yes":
        raise web.HTTPExpectationFailed(text="417: not for you")
    return None


async def answer_itself(request: Request) -> web.Response | None:
    seen.append("expect")
    return web.Response(status=401, text="who are you?")


@web.middleware
async def noting(request: Request, handler: web.Handler) -> web.StreamResponse:
    seen.append("middleware")
    return await handler(request)


def expect_app() -> Application:
    table = web.RouteTableDef()
    table.post("/table", expect_handler=refuse_unless_allowed)(echo)
    app = Application(middlewares=[noting])
    app.add_routes(
        [
            web.post("/upload", echo, expect_handler=refuse_unless_allowed),
            web.post("/answer", echo, expect_handler=answer_itself),
            web.post("/plain", echo),
            *table,
        ]
    )
    app.router.add_put("/put", echo, expect_handler=refuse_unless_allowed)
    return app


def upload(path: str, *, expect: bool = True, allowed: bool = False, method: str = "POST") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    head += "Expect: 100-continue\r\n" if expect else ""
    head += "X-Allowed: yes\r\n" if allowed else ""
    return (head + "\r\n").encode()


@pytest.mark.parametrize(
    ("path", "method", "status", "body", "calls"),
    [
        ("/upload", "POST", 417, b"417: not for you", ["expect"]),
        ("/table", "POST", 417, b"417: not for you", ["expect"]),
        ("/put", "PUT", 417, b"417: not for you", ["expect"]),
        ("/answer", "POST", 401, b"who are you?", ["expect"]),
    ],
)
async def test_an_expect_handler_that_answers_sends_no_100_continue(
    make_server: MakeServer,
    raw_connect: RawConnect,
    path: str,
    method: str,
    status: int,
    body: bytes,
    calls: list[str],
) -> None:
    server = await make_server(expect_app())
    conn = await raw_connect(server.port)
    seen.clear()
    await conn.send(upload(path, method=method))
    response = await conn.read_response()  # the first thing sent: the answer, not a 100
    assert (response.status, response.body) == (status, body)
    assert b"100 Continue" not in response.raw
    assert seen == calls  # neither the middleware nor the handler ran
    assert await conn.at_eof()  # the body never came: the connection closes after the answer


async def test_an_expect_handler_that_accepts_lets_the_handler_read(
    make_server: MakeServer, raw_connect: RawConnect
) -> None:
    server = await make_server(expect_app())
    conn = await raw_connect(server.port)
    seen.clear()
    await conn.send(upload("/upload", allowed=True))
    interim = await conn.read_response()
    assert interim.status == 100  # sent when the handler reads the body
    await conn.send(b"hello")
    response = await conn.read_response()
    assert (response.status, response.body) == (200, b"hello")
    assert seen == ["expect", "middleware", "handler"]


@pytest.mark.parametrize(
    ("path", "expect", "calls"),
    [
        ("/upload", False, ["middleware", "handler"]),  # no Expect: the expect handler is not asked
        ("/plain", True, ["middleware", "handler"]),  # no expect handler: as ever
        ("/plain", False, ["middleware", "handler"]),
    ],
)
async def test_without_expect_or_an_expect_handler_the_route_runs_as_ever(
    make_server: MakeServer, raw_connect: RawConnect, path: str, expect: bool, calls: list[str]
) -> None:
    server = await make_server(expect_app())
    conn = await raw_connect(server.port)
    seen.clear()
    await conn.send(upload(path, expect=expect) + (b"" if expect else b"hello"))
    if expect:
        assert (await conn.read_response()).status == 100
        await conn.send(b"hello")
    response = await conn.read_response()
    assert (response.status, response.body) == (200, b"hello")
    assert seen == calls


def test_a_route_without_expect_handler_is_compiled_as_before() -> None:
    app = Application()
    app.router.add_post("/plain", echo)
    app.router.add_post("/guarded", echo, expect_handler=refuse_unless_allowed)
    app.freeze()
    _, plain, _ = app.router.resolve("POST", "/plain")
    _, guarded, _ = app.router.resolve("POST", "/guarded")
    assert plain is echo
    assert guarded is not echo


def test_an_expect_handler_must_be_callable() -> None:
    with pytest.raises(RouteError, match="expect_handler"):
        web.Router().add_post("/x", echo, expect_handler="nope")  # type: ignore[arg-type]
