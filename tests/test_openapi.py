"""The OpenAPI 3.1 document derived from routes.yaml: valid, deterministic, and exact.

Every document here passes openapi-spec-validator; the structural rules (paths
without converters, parameters, operation ids, component names, the answers the
server really sends) are asserted one by one on fixtures made for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from projects import Project
from serving import REPO

from service import Server
from service.config.project import openapi_of

MODELS_A = '''
from pydantic import BaseModel, Field

from service import web


class User(BaseModel):
    """A user, as module a has it."""

    name: str


class Tag(BaseModel):
    label: str = Field(min_length=1)


class NewThing(BaseModel):
    user: User
    tags: list[Tag] = []
    note: str | None = None


class Query(BaseModel):
    limit: int = Field(10, ge=1)
    tag: list[str] = []


async def things(request):
    """List the things.

    Every thing there is, in order.
    """
    return web.json_response([])


async def create(request):
    return web.json_response({}, status=201)


async def remove(request):
    return web.Response(status=204)


async def one(request):
    return web.json_response({})
'''

MODELS_B = '''
from pydantic import BaseModel


class User(BaseModel):
    """A user, as module b has it."""

    id: int
'''

ROUTES = """\
service:
  name: fixture
  version: 2.1.0
routes:
  /things:
    GET: {handler: PKG.a.things, query: PKG.a.Query, response: PKG.b.User, tags: [things]}
    POST: {handler: PKG.a.create, body: PKG.a.NewThing, response: {201: PKG.a.User, 409: null}}
  /things/{id:int}:
    GET: PKG.a.one
    DELETE: {handler: PKG.a.remove, response: {204: null}, deprecated: true, operation_id: dropThing}
  GET /f/{x:float}: PKG.a.one
  GET /u/{x:uuid}: PKG.a.one
  GET /p/{x:path}: PKG.a.one
  GET /s/{x}: PKG.a.one
  GET /r/{x:[a-z]{2,4}}: {handler: PKG.a.one, summary: Two to four letters}
  "*  /any": PKG.a.one
"""


@pytest.fixture
def doc(project: Project) -> dict[str, Any]:
    project.write("a", MODELS_A)
    project.write("b", MODELS_B)
    document = json.loads(openapi_of(project.app(ROUTES)))
    validate(document)
    return document


def test_the_example_services_document_is_valid() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service", "openapi", str(REPO / "routes.yaml")],
        capture_output=True,
        check=True,
        timeout=60,
    )
    document = json.loads(result.stdout)
    validate(document)
    assert document["info"] == {"title": "example", "version": "0.1.0"}


def test_paths_drop_converters_and_list_each_placeholder_once(doc: dict[str, Any]) -> None:
    assert sorted(doc["paths"]) == [
        "/f/{x}",
        "/p/{x}",
        "/r/{x}",
        "/s/{x}",
        "/things",
        "/things/{id}",
        "/u/{x}",
    ]
    schemas = {path: item["get"]["parameters"] for path, item in doc["paths"].items() if path != "/things"}
    expected = {
        "/things/{id}": {"type": "integer", "minimum": 0},
        "/f/{x}": {"type": "number", "minimum": 0},
        "/u/{x}": {"type": "string", "format": "uuid"},
        "/p/{x}": {"type": "string"},
        "/s/{x}": {"type": "string", "pattern": "^(?:[^{}/]+)$"},  # a bare {x}: one segment
        "/r/{x}": {"type": "string", "pattern": "^(?:[a-z]{2,4})$"},
    }
    for path, schema in expected.items():
        (parameter,) = schemas[path]
        assert parameter == {"name": parameter["name"], "in": "path", "required": True, "schema": schema}


def test_operations_are_listed_by_method_without_head_options_or_star(doc: dict[str, Any]) -> None:
    assert sorted(doc["paths"]["/things"]) == ["get", "post"]
    assert sorted(doc["paths"]["/things/{id}"]) == ["delete", "get"]
    assert all("/any" not in path for path in doc["paths"])  # a * route is every method: not listed
    assert "/openapi.json" not in doc["paths"] and "/healthz" not in doc["paths"]


def test_operation_ids_are_unique_and_from_yaml_or_the_handler(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert doc["paths"]["/things/{id}"]["delete"]["operationId"] == "dropThing"
    assert doc["paths"]["/things"]["get"]["operationId"] == "things"
    # five routes name the same handler: its name, then _2, _3 ... in file order
    assert sorted(i for i in ids if i.startswith("one")) == [
        "one",
        "one_2",
        "one_3",
        "one_4",
        "one_5",
        "one_6",
    ]


def test_words_come_from_yaml_or_the_docstring(doc: dict[str, Any]) -> None:
    listing = doc["paths"]["/things"]["get"]
    assert (listing["summary"], listing["description"]) == (
        "List the things.",
        "Every thing there is, in order.",
    )
    assert listing["tags"] == ["things"]
    assert doc["paths"]["/r/{x}"]["get"]["summary"] == "Two to four letters"
    assert doc["paths"]["/things/{id}"]["delete"]["deprecated"] is True


def test_components_have_clean_names_and_every_ref_resolves(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    # Two modules' User: the class name, then User2 (sorted by module); no module__User.
    assert sorted(schemas) == ["NewThing", "Problem", "Query", "Tag", "User", "User2"]
    assert {schemas["User"]["description"], schemas["User2"]["description"]} == {
        "A user, as module a has it.",
        "A user, as module b has it.",
    }
    refs = _refs(doc)
    assert refs and all(ref.rsplit("/", 1)[1] in schemas for ref in refs)
    assert "nullable" not in json.dumps(doc)  # 3.1 writes null as a type


def test_only_answers_the_server_sends_are_listed(doc: dict[str, Any]) -> None:
    responses = {
        (path, method): sorted(op["responses"])
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    assert responses[("/things", "get")] == ["200", "422"]  # a query model
    assert responses[("/things", "post")] == ["201", "400", "409", "413", "415", "422"]  # a body model
    too_large = doc["paths"]["/things"]["post"]["responses"]["413"]  # as read() sends it: text
    assert too_large["content"] == {"text/plain": {"schema": {"type": "string"}}}
    assert responses[("/things/{id}", "delete")] == ["204", "404"]  # {id:int} can fail to match
    assert responses[("/p/{x}", "get")] == ["200"]  # {x:path} matches anything
    delete = doc["paths"]["/things/{id}"]["delete"]["responses"]["204"]
    assert "content" not in delete
    created = doc["paths"]["/things"]["post"]
    assert created["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NewThing"
    }
    problem = created["responses"]["422"]["content"]
    assert problem == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


POLICY_ROUTES = """\
policies:
  keyed: {auth: {api_key: {header: X-API-Key, keys_env: OPENAPI_TEST_KEYS}}, rate_limit: 10/second}
routes:
  GET /keyed: {handler: PKG.a.one, use: [keyed]}
  GET /by-query: {handler: PKG.a.one, auth: {api_key: {query: key, keys_env: OPENAPI_TEST_KEYS}}}
  GET /admin: {handler: PKG.a.one, auth: {bearer_jwt: {issuer: i, audience: a, algorithms: [HS256],
    key_env: OPENAPI_TEST_KEYS, scopes: [admin, read]}}}
  GET /token: {handler: PKG.a.one, auth: {bearer_jwt: {issuer: i, audience: a, algorithms: [HS256],
    key_env: OPENAPI_TEST_KEYS}}}
  POST /upload: {handler: PKG.a.create, max_body: 1KiB, concurrency: {limit: 1}}
  GET /slow: {handler: PKG.a.one, concurrency: {limit: 1}, timeout: 1s}
  GET /open: PKG.a.one
"""


def test_policies_are_security_schemes_and_their_refusals_are_listed(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAPI_TEST_KEYS", "k")
    project.write("a", MODELS_A)
    doc = json.loads(openapi_of(project.app(POLICY_ROUTES)))
    validate(doc)
    ops = {path: item["get" if "get" in item else "post"] for path, item in doc["paths"].items()}
    answers = {path: sorted(op["responses"]) for path, op in ops.items()}
    assert answers == {
        "/keyed": ["200", "401", "429"],
        "/by-query": ["200", "401"],
        "/admin": ["200", "401", "403"],  # 403: valid, but without the scopes
        "/token": ["200", "401"],
        "/upload": ["200", "413", "503"],
        "/slow": ["200", "503"],
        "/open": ["200"],
    }
    headers = {
        (path, status): sorted(answer.get("headers", {}))
        for path, op in ops.items()
        for status, answer in op["responses"].items()
        if status != "200"
    }
    assert headers == {
        ("/keyed", "401"): ["WWW-Authenticate"],
        ("/keyed", "429"): ["RateLimit", "RateLimit-Policy", "Retry-After"],
        ("/by-query", "401"): ["WWW-Authenticate"],
        ("/admin", "401"): ["WWW-Authenticate"],
        ("/admin", "403"): ["WWW-Authenticate"],
        ("/token", "401"): ["WWW-Authenticate"],
        ("/upload", "413"): [],
        ("/upload", "503"): ["Retry-After"],  # concurrency's 503 always says when to retry
        ("/slow", "503"): [],  # a timeout's 503 does not
    }
    assert ops["/upload"]["responses"]["413"]["content"] == {"text/plain": {"schema": {"type": "string"}}}
    assert {path: op.get("security") for path, op in ops.items()} == {
        "/keyed": [{"api_key.header.X-API-Key": []}],
        "/by-query": [{"api_key.query.key": []}],
        "/admin": [{"bearer_jwt": ["admin", "read"]}],
        "/token": [{"bearer_jwt": []}],
        "/upload": None,
        "/slow": None,
        "/open": None,
    }
    assert doc["components"]["securitySchemes"] == {
        "api_key.header.X-API-Key": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "api_key.query.key": {"type": "apiKey", "in": "query", "name": "key"},
        "bearer_jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    }


def test_a_query_model_is_query_parameters(doc: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in doc["paths"]["/things"]["get"]["parameters"]}
    assert parameters["limit"]["in"] == "query" and parameters["limit"]["required"] is False
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["tag"]["schema"]["type"] == "array"


@pytest.mark.parametrize("seed", ["1", "2"])
def test_the_document_is_byte_identical_across_runs_and_hash_seeds(
    project: Project, seed: str, tmp_path: Path
) -> None:
    project.write("a", MODELS_A)
    project.write("b", MODELS_B)
    routes = project.routes(ROUTES)
    out = tmp_path / f"openapi-{seed}.json"
    env = {**os.environ, "PYTHONHASHSEED": seed}
    subprocess.run(
        [sys.executable, "-m", "service", "openapi", str(routes), "-o", str(out)],
        env=env,
        check=True,
        timeout=60,
    )
    assert out.read_bytes() == openapi_of(project.app(ROUTES))


async def test_get_openapi_json_sends_the_same_bytes(
    project: Project, make_server: Callable[..., Awaitable[Server]]
) -> None:
    project.write("a", MODELS_A)
    project.write("b", MODELS_B)
    app = project.app(ROUTES)
    server = await make_server(app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == openapi_of(app)


def test_the_route_is_off_with_null_and_moves_with_a_path(project: Project) -> None:
    project.write("a", MODELS_A)
    project.write("b", MODELS_B)
    off = project.app(ROUTES.replace("  version: 2.1.0\n", "  version: 2.1.0\n  openapi: null\n"))
    assert "openapi" not in {r.name for r in off.router.routes()}
    moved = project.app(ROUTES.replace("  version: 2.1.0\n", "  version: 2.1.0\n  openapi: /api/spec.json\n"))
    assert {r.path for r in moved.router.routes() if r.name == "openapi"} == {"/api/spec.json"}


@pytest.mark.parametrize(
    ("routes", "where", "what", "other"),
    [
        (
            "  GET /users/{id:int}: PKG.a.one\n  DELETE /users/{uid:int}: PKG.a.remove\n",
            "routes['DELETE /users/{uid:int}']",
            "'/users/{uid:int}' and '/users/{id:int}' (at {at}) differ only in placeholder names",
            "GET /users",
        ),
        (
            "  GET /a: {handler: PKG.a.one, operation_id: same}\n"
            "  GET /b: {handler: PKG.a.one, operation_id: same}\n",
            "routes['GET /b'].operation_id",
            "operation_id 'same' is also routes['GET /a']'s (at {at})",
            "same",
        ),
    ],
    ids=["placeholder-names", "operation-id"],
)
def test_a_table_no_description_can_tell_apart_is_a_load_error_naming_both(
    project: Project, routes: str, where: str, what: str, other: str
) -> None:
    # The error is on the second route's line and names where the first is written.
    project.write("a", MODELS_A)
    text = routes.replace("PKG", project.pkg)
    first_line = text.splitlines()[0]
    at = f"{project.routes_file}:2:{first_line.index(other) + 1}"
    (issue,) = project.issues("routes:\n" + routes)
    assert issue.startswith(f"{project.routes_file}:3:")
    assert f": {where}: " in issue
    assert what.replace("{at}", at) in issue


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if "$ref" in value else []
        return own + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []
