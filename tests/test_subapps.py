"""Sub-applications (``add_subapp``, ``add_domain``), through real servers where a socket matters.

A sub-app's routes are served under its prefix, through the parent's middlewares
and then its own, with ``request.app`` the sub-app; its hooks run in aiohttp's
order; ``request.config_dict`` looks from the sub-app up to the root; its
``url_for`` knows the prefix. ``add_domain`` serves a sub-app by ``Host``, before
the paths. A plain app is compiled exactly as before: no per-request step added.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from service import Application, Request, RouteError, Server, web
from service.web.app import Middleware
from service.web.subapps import Domain, MaskDomain, MatchedSubAppResource, PrefixedSubAppResource

MakeServer = Callable[..., Awaitable[Server]]
DB = web.AppKey("db", str)


TRACE: list[str] = []  # what the tracing middlewares saw, in order (cleared by each server test)


def tracer(label: str) -> Middleware:
    """A middleware noting ``label`` and the app ``request.app`` was when it ran."""

    @web.middleware
    async def trace(request: Request, handler: web.Handler) -> web.StreamResponse:
        TRACE.append(f"{label}({request.app.get('label')})")
        return await handler(request)

    return trace


async def who(request: Request) -> web.Response:
    return web.Response(text=f"{request.app['label']} {request.route.path if request.route else ''}")


def labelled(label: str, *, middlewares: tuple[Middleware, ...] = ()) -> Application:
    app = Application(middlewares=middlewares)
    app["label"] = label
    return app


def tree() -> Application:
    """root (/) > admin (/admin) > deep (/admin/deep), each with a tracing middleware."""
    root = labelled("root", middlewares=(tracer("root"),))
    root.router.add_get("/", who)
    admin = labelled("admin", middlewares=(tracer("admin"),))
    admin.router.add_get("/users/{id:int}", who, name="user")
    admin.router.add_get("/", who, name="home")
    deep = labelled("deep", middlewares=(tracer("deep"),))
    deep.router.add_get("/x", who, name="x")
    admin.add_subapp("/deep", deep)
    root.add_subapp("/admin", admin)
    return root


async def get(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    TRACE.clear()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        return await client.request(method, path, **kwargs)


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "trace"),
    [
        ("GET", "/", 200, "root /", "root(root)>"),
        ("GET", "/admin/users/7", 200, "admin /admin/users/{id:int}", "root(root)>admin(admin)>"),
        ("GET", "/admin/", 200, "admin /admin/", "root(root)>admin(admin)>"),
        ("GET", "/admin/deep/x", 200, "deep /admin/deep/x", "root(root)>admin(admin)>deep(deep)>"),
        # a miss under a prefix is the sub-app's own 404 or 405, through its chain
        ("GET", "/admin/nothing", 404, None, "root(root)>admin(admin)>"),
        ("POST", "/admin/users/7", 405, None, "root(root)>admin(admin)>"),
        ("GET", "/admin/deep/nothing", 404, None, "root(root)>admin(admin)>deep(deep)>"),
        ("GET", "/elsewhere", 404, None, "root(root)>"),
        ("GET", "/administrator", 404, None, "root(root)>"),  # not under /admin
    ],
)
async def test_routes_under_the_prefix_run_the_parent_then_the_sub_app_chain(
    make_server: MakeServer, method: str, path: str, status: int, body: str | None, trace: str
) -> None:
    server = await make_server(tree())
    response = await get(server, method, path)
    assert response.status_code == status
    if body is not None:
        assert response.text == body
    assert ">".join(TRACE) + ">" == trace


async def test_a_405_under_the_prefix_names_the_sub_app_methods(make_server: MakeServer) -> None:
    server = await make_server(tree())
    response = await get(server, "DELETE", "/admin/users/1")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


async def test_request_app_is_restored_for_the_parent_after_the_sub_app(make_server: MakeServer) -> None:
    seen: list[str] = []

    @web.middleware
    async def after(request: Request, handler: web.Handler) -> web.StreamResponse:
        response = await handler(request)
        seen.append(request.app["label"])
        return response

    root = labelled("root", middlewares=(after,))
    sub = labelled("sub")
    sub.router.add_get("/x", who)
    root.add_subapp("/sub", sub)
    server = await make_server(root)
    assert (await get(server, "GET", "/sub/x")).text == "sub /sub/x"
    assert seen == ["root"]


async def test_config_dict_looks_from_the_sub_app_up_to_the_root(make_server: MakeServer) -> None:
    async def config(request: Request) -> web.Response:
        cfg = request.config_dict
        return web.json_response(
            {"db": cfg[DB], "label": cfg["label"], "root_only": cfg.get("root_only"), "none": cfg.get("x")}
        )

    root = labelled("root")
    root[DB] = "postgres://root"
    root["root_only"] = 1
    sub = labelled("sub")
    sub.router.add_get("/config", config)
    root.add_subapp("/sub", sub)
    root.router.add_get("/config", config)
    server = await make_server(root)
    assert (await get(server, "GET", "/sub/config")).json() == {
        "db": "postgres://root",
        "label": "sub",  # the nearest app's value wins
        "root_only": 1,
        "none": None,
    }
    assert (await get(server, "GET", "/config")).json()["label"] == "root"


def test_url_for_and_listings_include_the_prefix() -> None:
    root = tree()
    admin = next(r for r in root.router.resources() if isinstance(r, PrefixedSubAppResource)).app
    assert admin.router["user"].url_for(id=7) == "/admin/users/7"
    assert admin.router.url_for("home") == "/admin/"
    deep = next(r for r in admin.router.resources() if isinstance(r, PrefixedSubAppResource)).app
    assert deep.router["x"].url_for() == "/admin/deep/x"
    assert [r.canonical for r in root.router.resources()] == ["/", "/admin"]
    assert [r.path for r in root.router.routes()] == [
        "/",
        "/admin/users/{id:int}",
        "/admin/",
        "/admin/deep/x",
    ]
    assert "user" not in root.router.named_resources()  # names belong to the sub-app's router


async def test_normalize_path_middleware_of_a_sub_app_sees_its_prefixed_routes(
    make_server: MakeServer,
) -> None:
    root = Application()
    sub = Application(middlewares=[web.normalize_path_middleware()])
    sub.router.add_get("/dir/", who)
    sub["label"] = "sub"
    root.add_subapp("/sub", sub)
    server = await make_server(root)
    response = await get(server, "GET", "/sub/dir")
    assert (response.status_code, response.headers["Location"]) == (308, "/sub/dir/")


async def test_hooks_run_in_aiohttps_order() -> None:
    events: list[str] = []

    def hook(name: str) -> Callable[[Application], Awaitable[None]]:
        async def run(app: Application) -> None:
            events.append(f"{name}:{app['label']}")

        return run

    def context(name: str) -> Callable[[Application], Any]:
        async def ctx(app: Application) -> Any:
            events.append(f"{name}-up")
            yield
            events.append(f"{name}-down")

        return ctx

    root, sub = labelled("root"), labelled("sub")
    root.cleanup_ctx.append(context("root-ctx"))
    sub.cleanup_ctx.append(context("sub-ctx"))
    for app, name in ((root, "root"), (sub, "sub")):
        app.on_startup.append(hook(f"{name}-start"))
        app.on_shutdown.append(hook(f"{name}-stop"))
        app.on_cleanup.append(hook(f"{name}-clean"))
    root.add_subapp("/sub", sub)
    root.on_startup.append(hook("root-late-start"))  # after add_subapp: after the sub-app's
    await root.startup()
    await root.shutdown()
    await root.cleanup()
    assert events == [
        "root-ctx-up",
        "root-start:root",
        "sub-ctx-up",
        "sub-start:sub",
        "root-late-start:root",
        "root-stop:root",
        "sub-stop:sub",
        "root-ctx-down",
        "root-clean:root",
        "sub-ctx-down",
        "sub-clean:sub",
    ]


def plain(path: str = "/x") -> Application:
    app = Application()
    app.router.add_get(path, who)
    return app


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda root, sub: root.add_subapp("", sub), ValueError, "cannot be empty"),
        (lambda root, sub: root.add_subapp("/", sub), ValueError, "cannot be empty"),
        (lambda root, sub: root.add_subapp("admin", sub), ValueError, "starting with '/'"),
        (lambda root, sub: root.add_subapp("/{x}", sub), ValueError, "without braces"),
        (lambda root, sub: root.add_subapp("/s", root), TypeError, "another Application"),
        (
            lambda root, sub: [root.add_subapp("/s", sub), root.add_subapp("/t", sub)],
            RuntimeError,
            "mounted once",
        ),
        (
            lambda root, sub: [root.add_subapp("/s", sub), sub.router.add_get("/y", who)],
            RuntimeError,
            "sub-app",
        ),
        (lambda root, sub: [root.freeze(), root.add_subapp("/s", sub)], RuntimeError, "started or mounted"),
        (lambda root, sub: [sub.freeze(), root.add_subapp("/s", sub)], RuntimeError, "may not have started"),
        (
            lambda root, sub: [root.add_subapp("/s", sub), sub.add_subapp("/t", plain())],
            RuntimeError,
            "mounted",
        ),
        (lambda root, sub: root.add_domain("http://example.com", sub), ValueError, "no scheme"),
    ],
    ids=[
        "empty-prefix",
        "root-prefix",
        "relative-prefix",
        "braces",
        "itself",
        "twice",
        "route-after-mount",
        "parent-frozen",
        "sub-frozen",
        "mount-into-mounted",
        "domain-scheme",
    ],
)
def test_mounting_mistakes_are_refused(
    build: Callable[..., object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        build(plain("/root"), plain())


def test_a_sub_app_route_clashing_with_the_parent_is_an_error_at_freeze() -> None:
    root = plain("/admin/x")
    root.add_subapp("/admin", plain("/x"))
    with pytest.raises(RouteError, match="GET /admin/x"):
        root.freeze()


def test_a_plain_app_keeps_the_class_handle_and_the_bare_handler() -> None:
    # The hot path: nothing about sub-apps is looked at per request in an app without them.
    app = plain()
    app.freeze()
    assert "handle" not in vars(app) and "_miss" not in vars(app)
    route, call, _ = app.router.resolve("GET", "/x")
    assert route is not None and call is who  # no middlewares: the handler itself


# -- add_domain ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("domain", "host", "matches"),
    [
        ("example.com", "example.com", True),
        ("example.com", "EXAMPLE.com", True),
        ("example.com", "example.com:8080", True),  # no port in the domain: any port
        ("example.com.", "example.com", True),
        ("example.com", "www.example.com", False),
        ("example.com", "example.org", False),
        ("example.com:8080", "example.com:8080", True),
        ("example.com:8080", "example.com", False),
        ("example.com:8080", "example.com:9090", False),
        ("example.com:80", "example.com", True),  # 80 is as good as none
        ("*.example.com", "api.example.com", True),
        ("*.example.com", "a.b.example.com", True),
        ("*.example.com", "API.Example.COM:1234", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "api.example.org", False),
        ("*.example.com", "apiXexample.com", False),  # the dot is literal
        ("api.*.com", "api.shop.com", True),
    ],
)
def test_domain_rules(domain: str, host: str, matches: bool) -> None:
    rule = MaskDomain(domain) if "*" in domain else Domain(domain)
    assert rule.match_domain(host) is matches


@pytest.mark.parametrize(
    "domain", ["", "exa mple.com", "-bad.com", "example.com:port", "example.com:0", "a..b"]
)
def test_invalid_domains_are_refused(domain: str) -> None:
    with pytest.raises(ValueError):
        Domain(domain)


def domain_app() -> Application:
    root = labelled("root", middlewares=(tracer("root"),))
    root.router.add_get("/", who)
    root.router.add_get("/only-root", who)
    api = labelled("api", middlewares=(tracer("api"),))
    api.router.add_get("/", who)
    api.router.add_get("/items/{id}", who)
    shop = labelled("shop")
    shop.router.add_get("/", who)
    root.add_domain("api.example.com", api)
    root.add_domain("*.shop.example.com", shop)
    return root


@pytest.mark.parametrize(
    ("host", "path", "status", "body", "trace"),
    [
        ("api.example.com", "/", 200, "api /", "root(root)>api(api)>"),  # the domain before the path
        ("api.example.com:8080", "/items/3", 200, "api /items/{id}", "root(root)>api(api)>"),
        ("api.example.com", "/only-root", 404, None, "root(root)>api(api)>"),  # the sub-app's own 404
        ("eu.shop.example.com", "/", 200, "shop /", "root(root)>"),
        ("example.com", "/", 200, "root /", "root(root)>"),
        ("other.example.com", "/only-root", 200, "root /only-root", "root(root)>"),
    ],
)
async def test_add_domain_serves_the_sub_app_by_host(
    make_server: MakeServer, host: str, path: str, status: int, body: str | None, trace: str
) -> None:
    server = await make_server(domain_app())
    response = await get(server, "GET", path, headers={"Host": host})
    assert response.status_code == status
    if body is not None:
        assert response.text == body
    assert ">".join(TRACE) + ">" == trace


def test_domain_resources_are_listed_with_their_rule() -> None:
    root = domain_app()
    mounted = [r for r in root.router.resources() if isinstance(r, MatchedSubAppResource)]
    assert [r.canonical for r in mounted] == ["api.example.com", "*.shop.example.com"]
    assert [r.get_info()["app"]["label"] for r in mounted] == ["api", "shop"]
    with pytest.raises(RuntimeError, match="url_for"):
        mounted[0].url_for()


def test_an_app_with_domains_cannot_itself_be_mounted() -> None:
    middle = domain_app()
    with pytest.raises(RuntimeError, match="domains are served by the root"):
        Application().add_subapp("/m", middle)
