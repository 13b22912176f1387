"""Router: declarations -> frozen table -> match, and the errors raised when adding.

Most tests are tables: the routes a user declares, the request they send, and
what the router answers (the route's pattern and converted params, or the set
of allowed methods: empty for 404, non-empty for 405).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from service.errors import RouteError, ServiceError
from service.web.response import Response
from service.web.router import METHODS, Router, parse_pattern


async def _handler(request: Any) -> Response:
    return Response()


def build(*routes: tuple[str, str]) -> Router:
    """A frozen router with one route per ``(method, path)``, in order."""
    router = Router()
    for method, path in routes:
        router.add_route(method, path, _handler)
    router.freeze()
    return router


def match(router: Router, method: str, path: str) -> tuple[str, str, dict[str, Any]] | None:
    """``(route method, route pattern, params)`` for a hit, ``None`` for a miss."""
    route, call, params = router.resolve(method, path)
    if route is None:
        assert call is None
        return None
    assert call is route.handler
    return route.method, route.path, {} if params is None else params  # (None: a static route)


SAMPLE_UUID = "12345678-1234-5678-1234-567812345678"


# -- matching: one route, one request ---------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "path", "params"),
    [
        ("/", "/", {}),
        ("/health", "/health", {}),
        ("/api/v1/health/live", "/api/v1/health/live", {}),
        ("/users/{name}", "/users/alice", {"name": "alice"}),
        ("/users/{name}", "/users/a.b-c_d~e", {"name": "a.b-c_d~e"}),
        ("/users/{name:str}", "/users/bob", {"name": "bob"}),
        ("/v/{ver:v[0-9]+}", "/v/v12", {"ver": "v12"}),
        ("/codes/{code:[0-9]{3}}", "/codes/404", {"code": "404"}),
        ("/g/{x:(a|b)c}", "/g/bc", {"x": "bc"}),
        ("/items/{id:int}", "/items/42", {"id": 42}),
        ("/items/{id:int}", "/items/007", {"id": 7}),
        ("/f/{x:float}", "/f/1.5", {"x": 1.5}),
        ("/f/{x:float}", "/f/3", {"x": 3.0}),
        ("/u/{u:uuid}", f"/u/{SAMPLE_UUID}", {"u": uuid.UUID(SAMPLE_UUID)}),
        ("/u/{u:uuid}", f"/u/{SAMPLE_UUID.upper()}", {"u": uuid.UUID(SAMPLE_UUID)}),
        ("/static/{rest:path}", "/static/css/site.css", {"rest": "css/site.css"}),
        ("/static/{rest:path}", "/static/", {"rest": ""}),
        ("/files/{name}.{ext}", "/files/report.pdf", {"name": "report", "ext": "pdf"}),
        ("/v{version:int}/items", "/v2/items", {"version": 2}),
        (
            "/users/{uid:int}/posts/{slug}",
            "/users/7/posts/hello-world",
            {"uid": 7, "slug": "hello-world"},
        ),
    ],
)
def test_single_route_matches_with_converted_params(pattern: str, path: str, params: dict[str, Any]) -> None:
    router = build(("GET", pattern))
    assert match(router, "GET", path) == ("GET", pattern, params)
    # the converted values have the converter's type, not just an equal value
    _, _, got = router.resolve("GET", path)
    assert [type(v) for v in (got or {}).values()] == [type(v) for v in params.values()]


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/health", "/health/"),
        ("/health", "/Health"),
        ("/health/", "/health"),
        ("/users/{name}", "/users/"),
        ("/users/{name}", "/users/a/b"),
        ("/items/{id:int}", "/items/abc"),
        ("/items/{id:int}", "/items/-1"),
        ("/f/{x:float}", "/f/1."),
        ("/f/{x:float}", "/f/.5"),
        ("/u/{u:uuid}", "/u/not-a-uuid"),
        ("/codes/{code:[0-9]{3}}", "/codes/4040"),
        ("/v{version:int}/items", "/vx/items"),
        ("/static/{rest:path}", "/static"),
    ],
)
def test_single_route_does_not_match(pattern: str, path: str) -> None:
    router = build(("GET", pattern))
    assert match(router, "GET", path) is None
    assert router.resolve("GET", path)[2] == frozenset()


def test_int_too_long_to_convert_is_a_404_not_an_exception() -> None:
    router = build(("GET", "/items/{id:int}"))
    # longer than Python's default int-from-string limit (4300 digits)
    assert router.resolve("GET", "/items/" + "9" * 5000) == (None, None, frozenset())


# -- precedence -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("routes", "path", "expected"),
    [
        pytest.param(
            ["/users/{name}", "/users/me"], "/users/me", ("/users/me", {}), id="static-before-dynamic"
        ),
        pytest.param(
            ["/users/{name}", "/users/me"],
            "/users/you",
            ("/users/{name}", {"name": "you"}),
            id="dynamic-when-static-misses",
        ),
        pytest.param(
            ["/{rest:path}", "/api/{name}"],
            "/api/x",
            ("/api/{name}", {"name": "x"}),
            id="longer-prefix-first",
        ),
        pytest.param(
            ["/{rest:path}", "/api/{name}"],
            "/other/x",
            ("/{rest:path}", {"rest": "other/x"}),
            id="shorter-prefix-as-fallback",
        ),
        pytest.param(
            ["/a/{rest:path}", "/a/b/{id}"],
            "/a/b/1",
            ("/a/b/{id}", {"id": "1"}),
            id="deeper-prefix-first",
        ),
        pytest.param(
            ["/a/{rest:path}", "/a/b/{id}"],
            "/a/b/c/d",
            ("/a/{rest:path}", {"rest": "b/c/d"}),
            id="deeper-prefix-misses-then-shorter",
        ),
        pytest.param(
            ["/items/{id:int}", "/items/{name}"],
            "/items/5",
            ("/items/{id:int}", {"id": 5}),
            id="registration-order-int-first",
        ),
        pytest.param(
            ["/items/{id:int}", "/items/{name}"],
            "/items/five",
            ("/items/{name}", {"name": "five"}),
            id="registration-order-falls-through",
        ),
        pytest.param(
            ["/items/{name}", "/items/{id:int}"],
            "/items/5",
            ("/items/{name}", {"name": "5"}),
            id="registration-order-name-first",
        ),
        pytest.param(
            ["/g/{x:(a|b)c}", "/g/{y:int}"],
            "/g/7",
            ("/g/{y:int}", {"y": 7}),
            id="capturing-group-in-earlier-regex",
        ),
    ],
)
def test_precedence(routes: list[str], path: str, expected: tuple[str, dict[str, Any]]) -> None:
    router = build(*(("GET", r) for r in routes))
    pattern, params = expected
    assert match(router, "GET", path) == ("GET", pattern, params)


# -- methods: HEAD -> GET, '*' ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("routes", "method", "path", "expected"),
    [
        pytest.param([("GET", "/x")], "HEAD", "/x", ("GET", "/x", {}), id="head-falls-back-to-get"),
        pytest.param(
            [("GET", "/d/{id:int}")],
            "HEAD",
            "/d/3",
            ("GET", "/d/{id:int}", {"id": 3}),
            id="head-falls-back-to-dynamic-get",
        ),
        pytest.param(
            [("GET", "/x"), ("HEAD", "/x")], "HEAD", "/x", ("HEAD", "/x", {}), id="explicit-head-wins"
        ),
        pytest.param(
            [("GET", "/d/{id}"), ("HEAD", "/d/{id}")],
            "HEAD",
            "/d/1",
            ("HEAD", "/d/{id}", {"id": "1"}),
            id="explicit-dynamic-head-wins",
        ),
        pytest.param([("GET", "/x"), ("HEAD", "/x")], "GET", "/x", ("GET", "/x", {}), id="get-stays-get"),
        pytest.param([("get", "/x")], "GET", "/x", ("GET", "/x", {}), id="method-is-case-insensitive"),
        pytest.param([("*", "/x")], "DELETE", "/x", ("*", "/x", {}), id="star-matches-delete"),
        pytest.param(
            [("*", "/x/{id}")], "PATCH", "/x/1", ("*", "/x/{id}", {"id": "1"}), id="star-matches-dynamic"
        ),
        pytest.param(
            [("*", "/x"), ("POST", "/x")], "POST", "/x", ("POST", "/x", {}), id="explicit-beats-star"
        ),
        pytest.param([("*", "/x"), ("POST", "/x")], "GET", "/x", ("*", "/x", {}), id="star-covers-the-rest"),
        pytest.param(
            [("*", "/x/{id}"), ("POST", "/x/{id}")],
            "POST",
            "/x/1",
            ("POST", "/x/{id}", {"id": "1"}),
            id="explicit-beats-star-dynamic",
        ),
        pytest.param([("POST", "/x")], "POST", "/x", ("POST", "/x", {}), id="post"),
    ],
)
def test_method_matching(
    routes: list[tuple[str, str]], method: str, path: str, expected: tuple[str, str, dict[str, Any]]
) -> None:
    assert match(build(*routes), method, path) == expected


@pytest.mark.parametrize("method", METHODS)
def test_star_route_answers_every_method(method: str) -> None:
    assert match(build(("*", "/any")), method, "/any") == ("*", "/any", {})


# -- misses: 404 (empty set) vs 405 (the allowed methods) ------------------------------------------
@pytest.mark.parametrize(
    ("routes", "method", "path", "allowed"),
    [
        pytest.param([("GET", "/x")], "GET", "/nope", set(), id="404-unknown-path"),
        pytest.param([], "GET", "/", set(), id="404-empty-router"),
        pytest.param([("GET", "/items/{id:int}")], "GET", "/items/abc", set(), id="404-converter-refuses"),
        pytest.param([("GET", "/x")], "POST", "/x", {"GET", "HEAD", "OPTIONS"}, id="405-get-implies-head"),
        pytest.param([("POST", "/x")], "GET", "/x", {"POST", "OPTIONS"}, id="405-no-head-without-get"),
        pytest.param([("POST", "/x")], "HEAD", "/x", {"POST", "OPTIONS"}, id="405-head-without-get"),
        pytest.param(
            [("PUT", "/items/{id:int}"), ("DELETE", "/items/{id:int}")],
            "GET",
            "/items/3",
            {"PUT", "DELETE", "OPTIONS"},
            id="405-dynamic",
        ),
        pytest.param(
            [("GET", "/users/me"), ("DELETE", "/users/{name}")],
            "POST",
            "/users/me",
            {"GET", "HEAD", "DELETE", "OPTIONS"},
            id="405-static-and-dynamic-together",
        ),
        pytest.param(
            [("GET", "/x"), ("POST", "/x")],
            "OPTIONS",
            "/x",
            {"GET", "HEAD", "POST", "OPTIONS"},
            id="options-without-route-lists-methods",
        ),
        pytest.param(
            [("DELETE", "/a/{rest:path}")], "GET", "/a/b/c", {"DELETE", "OPTIONS"}, id="405-path-converter"
        ),
    ],
)
def test_miss_reports_allowed_methods(
    routes: list[tuple[str, str]], method: str, path: str, allowed: set[str]
) -> None:
    router = build(*routes)
    assert router.resolve(method, path) == (None, None, frozenset(allowed))
    assert router.allowed_methods(path) == frozenset(allowed)


def test_explicit_options_route_is_matched() -> None:
    router = build(("GET", "/x"), ("OPTIONS", "/x"))
    assert match(router, "OPTIONS", "/x") == ("OPTIONS", "/x", {})


# -- errors when adding ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "users", "must start with '/'"),
        ("GET", "", "must start with '/'"),
        ("GET", "/a}", "unbalanced '}'"),
        ("GET", "/a/{x}}", "unbalanced '}'"),
        ("GET", "/a/{x", "unclosed '{'"),
        ("GET", "/a/{x:[0-9]{2}", "unclosed '{'"),
        ("GET", "/a/{}", "is not an identifier"),
        ("GET", "/a/{1x}", "is not an identifier"),
        ("GET", "/a/{x-y}", "is not an identifier"),
        ("GET", "/a/{ x}", "is not an identifier"),
        ("GET", "/a/{:int}", "is not an identifier"),
        ("GET", "/a/{id:integer}", "unknown converter 'integer'"),
        ("GET", "/a/{x:[a-}", "invalid regex"),
        ("GET", "/a/{x:(}", "invalid regex"),
        ("GET", "/a/{x:(?P<y>a)}", "may not contain named groups"),
        ("GET", "/a/{x:}", "empty regex"),
        ("GET", "/a/{x}/{x}", "appears twice"),
        ("FETCH", "/a", "unknown method 'FETCH'"),
        ("", "/a", "unknown method"),
    ],
)
def test_bad_declaration_raises_route_error(method: str, path: str, message: str) -> None:
    router = Router()
    with pytest.raises(RouteError, match=message.replace("(", r"\(").replace("{", r"\{")):
        router.add_route(method, path, _handler)
    assert len(router) == 0


@pytest.mark.parametrize("path", ["users", "/a}", "/a/{x", "/a/{id:integer}", "/a/{x:(}"])
def test_parse_pattern_raises_the_same_errors(path: str) -> None:
    with pytest.raises(RouteError):
        parse_pattern(path)


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("GTE", "unknown method 'GTE' (did you mean GET?)"),
        ("gte", "unknown method 'gte' (did you mean GET?)"),
        ("FOO", "unknown method 'FOO' (use one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or '*')"),
    ],
)
def test_unknown_method_is_told_as_routes_yaml_tells_it(method: str, message: str) -> None:
    """Code and routes.yaml share one check: the method as written, and the closest known one."""
    with pytest.raises(RouteError) as info:
        Router().add_route(method, "/a", _handler)
    assert str(info.value) == message


def test_route_error_is_a_value_error_and_a_service_error() -> None:
    with pytest.raises(RouteError) as info:
        Router().add_route("GET", "nope", _handler)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ServiceError)


def test_handler_must_be_callable() -> None:
    with pytest.raises(RouteError, match="not callable"):
        Router().add_route("GET", "/x", "handlers.hello")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        pytest.param("/x", "/x", "duplicate route GET /x", id="static-duplicate"),
        pytest.param("/u/{id}", "/u/{id}", "duplicate route GET /u/{id}", id="dynamic-duplicate"),
        pytest.param("/u/{id}", "/u/{name}", "ambiguous route GET /u/{name}", id="ambiguous-names"),
        pytest.param("/u/{id:int}", "/u/{n:int}", "ambiguous route GET /u/{n:int}", id="ambiguous-int"),
        pytest.param("/u/{a}/{b}", "/u/{b}/{a}", "ambiguous route", id="ambiguous-swapped"),
    ],
)
def test_duplicate_or_ambiguous_route_names_the_first_one(first: str, second: str, message: str) -> None:
    router = Router()
    router.add_route("GET", first, _handler, origin="routes.yaml:3:5")
    with pytest.raises(RouteError, match=message.replace("{", r"\{")) as info:
        router.add_route("GET", second, _handler, origin="routes.yaml:9:5")
    assert f"same as GET {first} (declared at routes.yaml:3:5)" in str(info.value)
    assert len(router) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(("GET", "/x"), ("POST", "/x"), id="other-method"),
        pytest.param(("GET", "/u/{id}"), ("GET", "/u/{id:int}"), id="other-converter"),
        pytest.param(("GET", "/u/{id}"), ("GET", "/u/{id}/"), id="trailing-slash"),
        pytest.param(("*", "/x"), ("GET", "/x"), id="star-and-explicit"),
        pytest.param(("GET", "/x"), ("HEAD", "/x"), id="get-and-head"),
    ],
)
def test_routes_that_differ_are_not_duplicates(first: tuple[str, str], second: tuple[str, str]) -> None:
    router = Router()
    router.add_route(*first, _handler)
    router.add_route(*second, _handler)
    assert len(router) == 2


def test_duplicate_route_name_is_refused() -> None:
    router = Router()
    router.add_get("/users/{id}", _handler, name="user")
    with pytest.raises(RouteError, match=r"route name 'user' already used by GET /users/\{id\}"):
        router.add_get("/people/{id}", _handler, name="user")


@pytest.mark.parametrize("name", ["has space", "slash/name", "", "brace{"])
def test_bad_route_name_is_refused(name: str) -> None:
    with pytest.raises(RouteError, match="route name"):
        Router().add_get("/x", _handler, name=name)


def test_adding_after_freeze_raises_runtime_error() -> None:
    router = build(("GET", "/x"))
    assert router.frozen
    with pytest.raises(RuntimeError, match="frozen"):
        router.add_get("/y", _handler)


def test_resolve_before_freeze_raises_runtime_error() -> None:
    router = Router()
    router.add_get("/x", _handler)
    with pytest.raises(RuntimeError, match="freeze"):
        router.resolve("GET", "/x")


def test_freeze_twice_keeps_the_table_and_the_wrapped_handlers() -> None:
    router = Router()
    router.add_get("/x", _handler)

    async def wrapped(request: Any) -> Response:
        return Response()

    router.freeze(lambda handler: wrapped)
    router.freeze()  # a no-op: the table and its wrapped handlers stay
    route, call, _ = router.resolve("GET", "/x")
    assert route is not None and route.handler is _handler
    assert call is wrapped


def test_add_helpers_and_listing_keep_declaration_order() -> None:
    router = Router()
    router.add_get("/a", _handler)
    router.add_head("/a", _handler)
    router.add_post("/a", _handler)
    router.add_put("/a", _handler)
    router.add_patch("/a", _handler)
    router.add_delete("/a", _handler)
    router.add_options("/a", _handler)
    assert [r.method for r in router.routes()] == list(METHODS)
    assert [r.method for r in router] == list(METHODS)
    assert len(router) == len(METHODS)


# -- url_for ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "params", "url"),
    [
        ("/health", {}, "/health"),
        ("/users/{name}", {"name": "alice"}, "/users/alice"),
        ("/users/{name}", {"name": "a b"}, "/users/a%20b"),
        ("/users/{name}", {"name": "ü"}, "/users/%C3%BC"),
        ("/users/{name}", {"name": "a?b#c"}, "/users/a%3Fb%23c"),
        ("/users/{name}", {"name": "50%"}, "/users/50%25"),
        ("/users/{name:str}", {"name": "x&y=z"}, "/users/x%26y%3Dz"),
        ("/items/{id:int}", {"id": 42}, "/items/42"),
        ("/f/{x:float}", {"x": 1.5}, "/f/1.5"),
        ("/u/{u:uuid}", {"u": uuid.UUID(SAMPLE_UUID)}, f"/u/{SAMPLE_UUID}"),
        ("/static/{rest:path}", {"rest": "css/site main.css"}, "/static/css/site%20main.css"),
        ("/users/{uid:int}/posts/{slug}", {"uid": 7, "slug": "hi there"}, "/users/7/posts/hi%20there"),
    ],
)
def test_url_for_fills_in_and_quotes(pattern: str, params: dict[str, Any], url: str) -> None:
    router = Router()
    router.add_get(pattern, _handler, name="target")
    assert router.url_for("target", **params) == url


def test_url_for_round_trips_through_resolve() -> None:
    router = Router()
    router.add_get("/users/{uid:int}/files/{rest:path}", _handler, name="file")
    router.freeze()
    url = router.url_for("file", uid=3, rest="docs/a.txt")
    assert match(router, "GET", url) == (
        "GET",
        "/users/{uid:int}/files/{rest:path}",
        {"uid": 3, "rest": "docs/a.txt"},
    )


@pytest.mark.parametrize(
    ("pattern", "params", "message"),
    [
        pytest.param("/users/{name}", {}, "takes parameters", id="missing"),
        pytest.param("/users/{name}", {"name": "a", "extra": "b"}, "takes parameters", id="extra"),
        pytest.param("/users/{name}", {"nme": "a"}, "takes parameters", id="misspelt"),
        pytest.param("/health", {"x": "1"}, "takes parameters", id="static-with-params"),
        pytest.param("/items/{id:int}", {"id": "abc"}, "does not match", id="not-an-int"),
        pytest.param("/users/{name}", {"name": "a/b"}, "does not match", id="slash-in-segment"),
        pytest.param("/users/{name}", {"name": ""}, "does not match", id="empty-segment"),
    ],
)
def test_url_for_with_wrong_params_raises_value_error(
    pattern: str, params: dict[str, Any], message: str
) -> None:
    router = Router()
    router.add_get(pattern, _handler, name="target")
    with pytest.raises(ValueError, match=message):
        router.url_for("target", **params)


def test_url_for_unknown_name_raises_key_error() -> None:
    router = Router()
    router.add_get("/x", _handler, name="x")
    with pytest.raises(KeyError, match="no route named 'y'"):
        router.url_for("y")


# -- a large table ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_router() -> Router:
    """1,000 routes: static pages, one-route groups, and one group of 250 alternatives."""
    router = Router()
    for i in range(250):
        router.add_get(f"/pages/page{i}", _handler)
        router.add_get(f"/s{i}/{{name}}", _handler)
        router.add_get(f"/shared/{{id:int}}/r{i}", _handler)
        router.add_post(f"/shared/{{id:int}}/r{i}/edit", _handler)
    assert len(router) == 1000
    router.freeze()
    return router


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param(
            "POST",
            "/shared/7/r249/edit",
            ("POST", "/shared/{id:int}/r249/edit", {"id": 7}),
            id="last-registered-dynamic",
        ),
        pytest.param(
            "GET", "/shared/8/r249", ("GET", "/shared/{id:int}/r249", {"id": 8}), id="last-dynamic-get"
        ),
        pytest.param("GET", "/shared/1/r0", ("GET", "/shared/{id:int}/r0", {"id": 1}), id="first-dynamic"),
        pytest.param(
            "GET", "/shared/2/r125", ("GET", "/shared/{id:int}/r125", {"id": 2}), id="middle-dynamic"
        ),
        pytest.param("GET", "/s249/bob", ("GET", "/s249/{name}", {"name": "bob"}), id="last-own-prefix"),
        pytest.param("GET", "/pages/page249", ("GET", "/pages/page249", {}), id="last-static"),
        pytest.param("HEAD", "/shared/5/r200", ("GET", "/shared/{id:int}/r200", {"id": 5}), id="head"),
        pytest.param("GET", "/shared/5/r250", None, id="one-past-the-end"),
        pytest.param("GET", "/shared/x/r1", None, id="bad-int"),
    ],
)
def test_large_table_resolves(
    big_router: Router, method: str, path: str, expected: tuple[str, str, dict[str, Any]] | None
) -> None:
    assert match(big_router, method, path) == expected


def test_large_table_405(big_router: Router) -> None:
    assert big_router.resolve("GET", "/shared/7/r249/edit") == (None, None, frozenset({"POST", "OPTIONS"}))
