"""Class-based views and aiohttp's route helpers, through a real server.

``web.View`` answers each method it defines; any other is a 405 naming those it
does. A HEAD is answered by ``get`` when the view has no ``head`` (RFC 9110; aiohttp
answers 405). ``web.get(...)``, ``web.view(...)`` and the rest build the
``RouteDef`` values ``app.add_routes([...])`` takes, as in aiohttp.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest
from openapi_spec_validator import validate
from projects import Project

from service import Application, Request, Server, web
from service.config.project import openapi_of

MakeServer = Callable[..., Awaitable[Server]]


class ItemView(web.View):
    async def get(self) -> web.Response:
        return web.json_response({"id": self.request.match_info["id"]})

    async def put(self) -> web.Response:
        return web.json_response({"put": (await self.request.json())["name"]})

    async def delete(self) -> web.Response:
        return web.Response(status=204)


async def hello(request: Request) -> web.Response:
    return web.Response(text="hello " + request.method)


def helpers_app() -> Application:
    app = Application()
    app.add_routes(
        [
            web.get("/h", hello),
            web.post("/h", hello),
            web.put("/h", hello),
            web.patch("/h", hello),
            web.delete("/h", hello, name="h-delete"),
            web.options("/h", hello),
            web.route("POST", "/r", hello),
            web.view("/items/{id}", ItemView, name="item"),
        ]
    )
    return app


def table_app() -> Application:
    routes = web.RouteTableDef()

    @routes.view("/items/{id}")
    class Item(ItemView):
        pass

    app = Application()
    app.add_routes(routes)
    return app


def router_app() -> Application:
    app = Application()
    app.router.add_view("/items/{id}", ItemView)
    return app


@pytest.fixture(
    params=[helpers_app, table_app, router_app], ids=["web.view", "RouteTableDef.view", "add_view"]
)
async def client(request: pytest.FixtureRequest, make_server: MakeServer) -> httpx.AsyncClient:
    server = await make_server(request.param())
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}")


async def test_a_view_answers_each_method_it_defines(client: httpx.AsyncClient) -> None:
    async with client:
        got = await client.get("/items/7")
        put = await client.put("/items/7", json={"name": "pen"})
        deleted = await client.delete("/items/7")
        head = await client.head("/items/7")
        post = await client.post("/items/7")
        patch = await client.patch("/items/7")
    assert (got.status_code, got.json()) == (200, {"id": "7"})
    assert (put.status_code, put.json()) == (200, {"put": "pen"})
    assert (deleted.status_code, deleted.content) == (204, b"")
    # HEAD: the view's get answers it, without a body (aiohttp answers 405 here).
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Length"] == got.headers["Content-Length"]
    for refused in (post, patch):
        assert refused.status_code == 405
        assert refused.headers["Allow"] == "DELETE, GET, HEAD, PUT"


async def test_the_route_helpers_build_what_add_routes_takes(make_server: MakeServer) -> None:
    app = helpers_app()
    server = await make_server(app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            response = await client.request(method, "/h")
            assert (response.status_code, response.text) == (200, f"hello {method}")
        assert (await client.post("/r")).text == "hello POST"
        assert (await client.get("/r")).status_code == 405
    assert str(app.router.url_for("item", id=3)) == "/items/3"
    assert {r.name for r in app.router.routes() if r.name} == {"h-delete", "item"}


def test_the_helpers_are_aiohttps_names() -> None:
    for name in ("get", "head", "post", "put", "patch", "delete", "options", "route", "view", "View"):
        assert name in web.__all__
    definition = web.get("/x", hello, name="x")
    assert (definition.method, definition.path, definition.handler, definition.name) == (
        "GET",
        "/x",
        hello,
        "x",
    )


VIEWS_MODULE = '''
from service import web


class UserView(web.View):
    async def get(self):
        """Get one user."""
        return web.json_response({"id": self.request.match_info["id"]})

    async def delete(self):
        return web.Response(status=204)


async def plain(request):
    return web.Response(text="plain")
'''


async def test_a_view_named_in_routes_yaml_serves_all_its_methods(
    project: Project, make_server: MakeServer
) -> None:
    project.write("v", VIEWS_MODULE)
    app = project.app("routes:\n  /users/{id:int}: PKG.v.UserView\n")
    server = await make_server(app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        got, deleted, posted = (
            await client.get("/users/3"),
            await client.delete("/users/3"),
            await client.post("/users/3"),
        )
    assert (got.status_code, got.json()) == (200, {"id": 3})
    assert deleted.status_code == 204
    assert (posted.status_code, posted.headers["Allow"]) == (405, "DELETE, GET, HEAD")
    # The API description lists the view's methods, each an operation of its own.
    document = json.loads(openapi_of(app))
    validate(document)
    operations = document["paths"]["/users/{id}"]
    assert sorted(operations) == ["delete", "get"]
    assert (operations["get"]["operationId"], operations["get"]["summary"]) == ("get", "Get one user.")


@pytest.mark.parametrize(
    ("line", "what"),
    [
        (
            "  /users: PKG.v.plain\n",
            "PKG.v.plain is not a web.View class: '/path: name' names a class-based view",
        ),
        ("  /users: PKG.v.NoSuchView\n", "has no attribute 'NoSuchView'"),
    ],
    ids=["a-function", "missing"],
)
def test_a_view_line_naming_no_view_is_a_load_error(project: Project, line: str, what: str) -> None:
    project.write("v", VIEWS_MODULE)
    (issue,) = project.issues("routes:\n" + line)
    assert issue.startswith(f"{project.routes_file}:2:")
    assert what.replace("PKG", project.pkg) in issue


def test_the_editor_schema_takes_a_view_line() -> None:
    from jsonschema import Draft7Validator

    from service.config.jsonschema import routes_schema

    validator = Draft7Validator(routes_schema())
    assert not list(validator.iter_errors({"routes": {"/users/{id}": "handlers.users.UserView"}}))
    assert list(validator.iter_errors({"routes": {"/users/{id}": "not a name"}}))
