"""Body and query models named in routes.yaml: validated before the handler runs.

A real server on 127.0.0.1:0 serves a routes file whose routes name pydantic
models; each row sends one request and checks the status, the media type and
what the answer says (or that the handler saw the validated model).
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from projects import Project

from service import Server
from service.config.project import openapi_of
from service.web.models import PROBLEM_JSON

MODELS = """\
from pydantic import BaseModel, Field

from service import web


class NewItem(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    price: float = Field(gt=0)
    quantity: int = Field(1, ge=1)


class ListQuery(BaseModel):
    limit: int = Field(10, ge=1, le=100)
    tag: list[str] = []


async def create(request):
    item = request.validated(NewItem)
    return web.json_response({"name": item.name, "price": item.price, "quantity": item.quantity}, status=201)


async def listing(request):
    query = request.validated(ListQuery)
    return web.json_response({"limit": query.limit, "tag": query.tag})


async def asks_for_the_wrong_model(request):
    request.validated(NewItem)  # the route declares only a query model
    return web.Response(text="unreachable")


def not_a_model():
    return None
"""

ROUTES = """\
service:
  client_max_size: 200
routes:
  POST /items: {handler: PKG.m.create, body: PKG.m.NewItem}
  GET /items: {handler: PKG.m.listing, query: PKG.m.ListQuery}
  GET /wrong: {handler: PKG.m.asks_for_the_wrong_model, query: PKG.m.ListQuery}
"""

SECRET = "s3cr3t-do-not-echo"
JSON = {"Content-Type": "application/json"}
Send = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
async def send(project: Project, make_server: Callable[..., Awaitable[Server]]) -> AsyncIterator[Send]:
    project.write("m", MODELS)
    server = await make_server(project.app(ROUTES))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=5.0) as client:

        async def send(method: str, path: str, **kwargs: Any) -> httpx.Response:
            return await client.request(method, path, **kwargs)

        yield send


def row(
    ident: str, method: str, path: str, status: int, *, seen: Any = None, locs: Any = None, **kw: Any
) -> Any:
    """``seen``: the handler's JSON answer; ``locs``: the ``(loc, type)`` of a problem's errors."""
    return pytest.param(method, path, kw, status, seen, locs, id=ident)


ROWS = [
    row(
        "body-valid",
        "POST",
        "/items",
        201,
        json={"name": "pen", "price": 1.5},
        seen={"name": "pen", "price": 1.5, "quantity": 1},
    ),
    row(
        "body-json-suffix-type",
        "POST",
        "/items",
        201,
        content=b'{"name": "pen", "price": 2}',
        headers={"Content-Type": "application/vnd.api+json"},
        seen={"name": "pen", "price": 2.0, "quantity": 1},
    ),
    row(
        "body-text-type",
        "POST",
        "/items",
        415,
        content=b'{"name": "pen", "price": 1}',
        headers={"Content-Type": "text/plain"},
    ),
    row("body-no-type", "POST", "/items", 415, content=b'{"name": "pen", "price": 1}'),
    row(
        "body-not-json",
        "POST",
        "/items",
        400,
        content=b'{"name": pen}',
        headers=JSON,
        locs=[(["body"], "json_invalid")],
    ),
    row(
        "body-invalid",
        "POST",
        "/items",
        422,
        json={"name": "", "price": -1},
        locs=[(["body", "name"], "string_too_short"), (["body", "price"], "greater_than")],
    ),
    row(
        "body-missing-field",
        "POST",
        "/items",
        422,
        json={"name": "pen"},
        locs=[(["body", "price"], "missing")],
    ),
    # Strict: JSON true is not a number, "1.5" is not a float (lax mode would take both).
    row(
        "body-strict-bool",
        "POST",
        "/items",
        422,
        json={"name": "pen", "price": True},
        locs=[(["body", "price"], "float_type")],
    ),
    row(
        "body-strict-str",
        "POST",
        "/items",
        422,
        json={"name": "pen", "price": "1.5"},
        locs=[(["body", "price"], "float_type")],
    ),
    # JSON Schema's rule, which the OpenAPI document states: a number without a fraction
    # is an integer (found by schemathesis: {"repeat": 1.0} was refused). Still strict.
    row(
        "body-integral-number-is-an-int",
        "POST",
        "/items",
        201,
        content=b'{"name": "pen", "price": 1, "quantity": 2.0}',
        headers=JSON,
        seen={"name": "pen", "price": 1.0, "quantity": 2},
    ),
    row(
        "body-integral-exponent-is-an-int",
        "POST",
        "/items",
        201,
        content=b'{"name": "pen", "price": 1, "quantity": 3e0}',
        headers=JSON,
        seen={"name": "pen", "price": 1.0, "quantity": 3},
    ),
    row(
        "body-fraction-is-not-an-int",
        "POST",
        "/items",
        422,
        json={"name": "pen", "price": 1, "quantity": 2.5},
        locs=[(["body", "quantity"], "int_type")],
    ),
    row(
        "body-strict-int-bool",
        "POST",
        "/items",
        422,
        json={"name": "pen", "price": 1, "quantity": True},
        locs=[(["body", "quantity"], "int_type")],
    ),
    row(
        "body-strict-int-str",
        "POST",
        "/items",
        422,
        json={"name": "pen", "price": 1, "quantity": "2"},
        locs=[(["body", "quantity"], "int_type")],
    ),
    row(
        "body-integral-and-other-errors",
        "POST",
        "/items",
        422,
        content=b'{"name": "", "price": 1, "quantity": 2.0}',
        headers=JSON,
        locs=[(["body", "name"], "string_too_short")],
    ),
    row("body-not-an-object", "POST", "/items", 422, json=[1, 2], locs=[(["body"], "model_type")]),
    row("body-too-large", "POST", "/items", 413, json={"name": "pen", "price": 1, "pad": "x" * 300}),
    row("query-default", "GET", "/items", 200, seen={"limit": 10, "tag": []}),
    row("query-valid", "GET", "/items?limit=5&tag=a&tag=b", 200, seen={"limit": 5, "tag": ["a", "b"]}),
    row("query-one-of-a-list", "GET", "/items?tag=a", 200, seen={"limit": 10, "tag": ["a"]}),
    row(
        "query-out-of-range", "GET", "/items?limit=0", 422, locs=[(["query", "limit"], "greater_than_equal")]
    ),
    row("query-not-an-int", "GET", "/items?limit=abc", 422, locs=[(["query", "limit"], "int_parsing")]),
    row("undeclared-model-is-a-bug", "GET", "/wrong", 500),
]


@pytest.mark.parametrize(("method", "path", "kw", "status", "seen", "locs"), ROWS)
async def test_a_declared_model_is_checked_before_the_handler(
    send: Send, method: str, path: str, kw: dict[str, Any], status: int, seen: Any, locs: Any
) -> None:
    response = await send(method, path, **kw)
    assert response.status_code == status, response.text
    if seen is not None:
        assert response.json() == seen
    if status in (400, 415, 422):
        assert response.headers["Content-Type"] == PROBLEM_JSON
        doc = response.json()
        assert (doc["status"], doc["type"]) == (status, "about:blank")
        assert doc["title"] and doc["detail"]
        if locs is not None:
            assert [(e["loc"], e["type"]) for e in doc["errors"]] == locs
            assert all(set(e) == {"loc", "type", "msg"} for e in doc["errors"])


@pytest.mark.parametrize(
    ("method", "path", "kw"),
    [
        ("POST", "/items", {"json": {"name": SECRET * 2, "price": SECRET}}),
        ("POST", "/items", {"content": ('{"name": "' + SECRET).encode(), "headers": JSON}),
        ("GET", f"/items?limit={SECRET}", {}),
    ],
    ids=["invalid-body", "malformed-body", "invalid-query"],
)
async def test_what_the_client_sent_is_never_echoed_back(
    send: Send, method: str, path: str, kw: dict[str, Any]
) -> None:
    response = await send(method, path, **kw)
    assert response.status_code in (400, 422)
    assert SECRET not in response.text


# -- load errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "value", "what"),
    [
        (
            "{handler: PKG.m.create, body: PKG.m.not_a_model}",
            "PKG.m.not_a_model",
            "PKG.m.not_a_model is function, not a pydantic model",
        ),
        (
            "{handler: PKG.m.create, query: PKG.m.NoSuch}",
            "PKG.m.NoSuch",
            "module 'PKG.m' has no attribute 'NoSuch'",
        ),
        (
            "{handler: PKG.m.create, response: PKG.m.create}",
            "PKG.m.create}",
            "PKG.m.create is function, not a pydantic model",
        ),
        (
            "{handler: PKG.m.create, response: {201: PKG.m.not_a_model}}",
            "PKG.m.not_a_model",
            "routes['POST /a'].response.201: PKG.m.not_a_model is function",
        ),
    ],
    ids=["body-not-a-model", "query-missing", "response-not-a-model", "response-by-status"],
)
def test_a_model_name_that_is_not_a_model_is_reported_at_its_place(
    project: Project, route: str, value: str, what: str
) -> None:
    project.write("m", MODELS)
    line = f"  POST /a: {route}".replace("PKG", project.pkg)
    col = line.index(value.replace("PKG", project.pkg)) + 1
    issues = project.issues(f"routes:\n{line}\n")
    assert len(issues) == 1
    assert issues[0].startswith(f"{project.routes_file}:2:{col}: ")
    assert what.replace("PKG", project.pkg) in issues[0]


def test_a_misspelled_model_key_is_suggested(project: Project) -> None:
    project.write("m", MODELS)
    (issue,) = project.issues("routes:\n  POST /a: {handler: PKG.m.create, bodyy: PKG.m.NewItem}\n")
    assert "body" in issue.split("bodyy", 1)[1]


def test_the_example_problem_document_is_json() -> None:
    from service.web.models import problem

    response = problem(422, "d", [{"loc": ["body"], "type": "t", "msg": "m"}])
    assert response.content_type == PROBLEM_JSON
    assert json.loads(response.body)["errors"] == [{"loc": ["body"], "type": "t", "msg": "m"}]


def test_a_route_without_models_runs_its_bare_handler(project: Project) -> None:
    # The seam: models are composed once, at load, around the handler; a route that
    # names none is routed straight to the user's function.
    project.write("m", MODELS)
    app = project.app(
        "routes:\n"
        "  GET /bare: PKG.m.listing\n"
        "  GET /items: {handler: PKG.m.listing, query: PKG.m.ListQuery}\n"
    )
    handlers = {r.path: r.handler for r in app.router.routes()}
    listing = sys.modules[f"{project.pkg}.m"].listing
    assert handlers["/bare"] is listing
    assert handlers["/items"] is not listing
    assert handlers["/items"].__name__ == "listing"  # a wrapper that says whose it is


def test_the_fixtures_openapi_document_is_valid_and_names_its_models(project: Project) -> None:
    project.write("m", MODELS)
    document = json.loads(openapi_of(project.app(ROUTES)))
    validate(document)
    items = document["paths"]["/items"]
    assert items["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NewItem"
    }
    assert {p["name"] for p in items["get"]["parameters"]} == {"limit", "tag"}
