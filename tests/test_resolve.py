"""Dotted names in routes.yaml -> the code they name, with one precise message per mistake.

Each test writes its own routes.yaml and a uniquely named handlers package into
``tmp_path`` (``sys.modules`` caches imports across tests), builds it with
``service.config.project.load_app`` and checks the exact ``FILE:LINE:COL: where: what``
lines a user would read, or serves the built app on 127.0.0.1:0.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator

import httpx
from projects import Project

from service import Application, Server
from service.config.loader import load
from service.config.project import build_app

TIMEOUT = 5.0  # bound on every network wait; never a timing assertion


GOOD = """\
from service import web


async def hello(request):
    return web.Response(text="hello")


class Greeter:
    async def greet(self, request):
        return web.Response(text="greet " + request.match_info["name"])


greeter = Greeter()


class CallMe:
    async def __call__(self, request):
        return web.Response(text="called")


call_me = CallMe()


def plain(request):
    return web.Response(text="plain")


async def two(request, other):
    return web.Response(text="two")


not_callable = 5


@web.middleware
async def tag(request, handler):
    response = await handler(request)
    response.headers["X-Tag"] = "yes"
    return response


async def mw_one_arg(request):
    return None


async def startup_no_args():
    return None
"""


def where(project: Project, line: int, col: int) -> str:
    return f"{project.routes_file}:{line}:{col}"


# -- modules ------------------------------------------------------------------------------------
def test_module_not_found(project: Project) -> None:
    project.write("good", GOOD)
    assert project.issues("routes:\n  GET /a: PKG.nope.hello\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: module not found: '{project.pkg}.nope'"
    ]


def test_module_not_found_suggests_a_sibling(project: Project) -> None:
    project.write("good", GOOD)
    assert project.issues("routes:\n  GET /a: PKG.goo.hello\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: module not found: '{project.pkg}.goo'"
        f" (did you mean '{project.pkg}.good'?)"
    ]


def test_package_not_found(project: Project) -> None:
    assert project.issues("routes:\n  GET /a: PKG_missing.users.get\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: module not found: '{project.pkg}_missing.users'"
    ]


def test_module_raising_import_error_shows_its_own_file_and_line(project: Project) -> None:
    project.write("broken", 'x = 1\n\nraise ImportError("no backend configured")\n')
    assert project.issues("routes:\n  GET /a: PKG.broken.f\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: importing '{project.pkg}.broken' failed:"
        f" ImportError: no backend configured (at {project.module_file('broken')}:3)"
    ]


def test_module_importing_a_missing_dependency_is_not_module_not_found(project: Project) -> None:
    dependency = f"dep_{uuid.uuid4().hex}"
    project.write("needs_dep", f"import os\n\nimport {dependency}\n")
    assert project.issues("routes:\n  GET /a: PKG.needs_dep.f\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: importing '{project.pkg}.needs_dep' failed:"
        f" ModuleNotFoundError: No module named '{dependency}' (at {project.module_file('needs_dep')}:3)"
    ]


def test_module_raising_another_error_while_importing(project: Project) -> None:
    project.write("crashes", "def setup():\n    return {}['missing']\n\n\nCONFIG = setup()\n")
    assert project.issues("routes:\n  GET /a: PKG.crashes.f\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: importing '{project.pkg}.crashes' failed:"
        f" KeyError: 'missing' (at {project.module_file('crashes')}:2)"
    ]


def test_module_with_a_syntax_error_shows_its_file_and_line(project: Project) -> None:
    project.write("syntax", "async def f(request):\n    return (\n\n\ndef\n")
    assert project.issues("routes:\n  GET /a: PKG.syntax.f\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: importing '{project.pkg}.syntax' failed:"
        f" SyntaxError: '(' was never closed (at {project.module_file('syntax')}:2)"
    ]


# -- attributes and callables ------------------------------------------------------------------------
def test_missing_attribute_with_did_you_mean(project: Project) -> None:
    project.write("good", GOOD)
    assert project.issues("routes:\n  GET /a: PKG.good.helo\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: module '{project.pkg}.good' has no attribute 'helo'"
        " (did you mean 'hello'?)"
    ]


def test_missing_attribute_without_close_match(project: Project) -> None:
    project.write("good", GOOD)
    assert project.issues("routes:\n  GET /a: PKG.good.zzzzzz\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: module '{project.pkg}.good' has no attribute 'zzzzzz'"
    ]


def test_missing_nested_attribute_in_colon_form(project: Project) -> None:
    project.write("good", GOOD)
    assert project.issues("routes:\n  GET /a: PKG.good:greeter.gret\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: module '{project.pkg}.good:greeter' has no attribute"
        " 'gret' (did you mean 'greet'?)"
    ]


def test_handler_that_is_a_plain_def(project: Project) -> None:
    project.write("good", GOOD)
    assert project.issues("routes:\n  GET /a: PKG.good.plain\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: {project.pkg}.good.plain is not an async function:"
        " define it with 'async def'"
    ]


def test_handler_taking_two_required_args(project: Project) -> None:
    project.write("good", GOOD)
    assert project.issues("routes:\n  GET /a: PKG.good.two\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: {project.pkg}.good.two(request, other) cannot be called"
        " as two(request): it must take 1 positional argument (request)"
    ]


def test_handler_taking_two_args_named_in_colon_form(project: Project) -> None:
    # The message should name the function, 'two', not 'good:two'.
    project.write("good", GOOD)
    assert project.issues("routes:\n  GET /a: PKG.good:two\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: {project.pkg}.good:two(request, other) cannot be called"
        " as two(request): it must take 1 positional argument (request)"
    ]


def test_handler_that_is_not_callable(project: Project) -> None:
    project.write("good", GOOD)
    assert project.issues("routes:\n  GET /a: PKG.good.not_callable\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: {project.pkg}.good.not_callable is not a function"
        " but a value of type 'int'"
    ]


def test_handler_without_a_module(project: Project) -> None:
    assert project.issues("routes:\n  GET /a: hello\n") == [
        f"{where(project, 2, 11)}: routes['GET /a']: 'hello' names no module:"
        " write module.function, e.g. handlers.hello.hello"
    ]


def test_long_form_points_at_the_handler_value(project: Project) -> None:
    project.write("good", GOOD)
    assert project.issues("routes:\n  GET /a:\n    name: a\n    handler: PKG.good.plain\n") == [
        f"{where(project, 4, 14)}: routes['GET /a']: {project.pkg}.good.plain is not an async function:"
        " define it with 'async def'"
    ]


def test_middleware_with_the_wrong_arity(project: Project) -> None:
    project.write("good", GOOD)
    text = "middlewares:\n  - PKG.good.mw_one_arg\nroutes:\n  GET /a: PKG.good.hello\n"
    assert project.issues(text) == [
        f"{where(project, 2, 5)}: middlewares[0]: {project.pkg}.good.mw_one_arg(request) cannot be called"
        " as mw_one_arg(request, handler): it must take 2 positional arguments (request, handler)"
    ]


def test_hook_with_the_wrong_arity(project: Project) -> None:
    project.write("good", GOOD)
    text = "on_startup: [PKG.good.startup_no_args]\nroutes:\n  GET /a: PKG.good.hello\n"
    assert project.issues(text) == [
        f"{where(project, 1, 14)}: on_startup[0]: {project.pkg}.good.startup_no_args() cannot be called"
        " as startup_no_args(app): it must take 1 positional argument (app)"
    ]


def test_every_unresolvable_name_is_reported_in_one_error(project: Project) -> None:
    project.write("good", GOOD)
    text = """\
        middlewares:
          - PKG.good.mw_one_arg
        routes:
          GET /a: PKG_missing.users.get
          GET /b: PKG.good.helo
          GET /c: PKG.good.plain
          GET /d: PKG.good.hello
    """
    lines = project.issues(text)
    pkg = project.pkg
    assert sorted(lines) == sorted(
        [
            f"{where(project, 2, 5)}: middlewares[0]: {pkg}.good.mw_one_arg(request) cannot be called"
            " as mw_one_arg(request, handler): it must take 2 positional arguments (request, handler)",
            f"{where(project, 4, 11)}: routes['GET /a']: module not found: '{pkg}_missing.users'",
            f"{where(project, 5, 11)}: routes['GET /b']: module '{pkg}.good' has no attribute 'helo'"
            " (did you mean 'hello'?)",
            f"{where(project, 6, 11)}: routes['GET /c']: {pkg}.good.plain is not an async function:"
            " define it with 'async def'",
        ]
    )


def test_build_app_from_a_loaded_spec(project: Project) -> None:
    project.write("good", GOOD)
    app = build_app(load(project.routes("routes:\n  GET /a: PKG.good.hello\n"), env={}))
    assert app.frozen
    assert [(r.method, r.path) for r in app.router.routes()] == [
        ("GET", "/a"),
        ("GET", "/livez"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
    ]


def test_colon_and_nested_forms_resolve_to_the_named_objects(project: Project) -> None:
    project.write("good", GOOD)
    app = project.app(
        """\
        routes:
          GET /a: PKG.good:hello
          GET /b/{name}: PKG.good:greeter.greet
          GET /c: PKG.good.call_me
        service:
          healthz: null
        """
    )
    good = sys.modules[f"{project.pkg}.good"]
    handlers = {r.path: r.handler for r in app.router.routes()}
    assert handlers["/a"] is good.hello
    assert handlers["/b/{name}"] == good.greeter.greet
    assert handlers["/c"] is good.call_me


# -- serving what was built ------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def serving(app: Application) -> AsyncIterator[httpx.AsyncClient]:
    server = Server(app, host="127.0.0.1", port=0, shutdown_timeout=1.0)
    await asyncio.wait_for(server.start(), TIMEOUT)
    try:
        base_url = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT, trust_env=False) as client:
            yield client
    finally:
        server.force()
        await asyncio.wait_for(server.shutdown(), TIMEOUT)


async def test_module_attr_form_and_middleware_serve(project: Project) -> None:
    project.write("good", GOOD)
    app = project.app(
        """\
        middlewares: [PKG.good:tag]
        routes:
          GET /a: PKG.good:hello
          GET /b/{name}: PKG.good:greeter.greet
          GET /c: PKG.good.call_me
        """
    )
    async with serving(app) as client:
        a = await client.get("/a")
        b = await client.get("/b/ann")
        c = await client.get("/c")
        health = await client.get("/healthz")
    assert (a.status_code, a.text, a.headers["X-Tag"]) == (200, "hello", "yes")
    assert (b.status_code, b.text) == (200, "greet ann")
    assert (c.status_code, c.text) == (200, "called")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["service"] == "service"


SLOW = """\
import asyncio

from service import web


async def slow(request):
    await asyncio.sleep(60)  # far beyond the route's timeout; the test's waits are bounded
    return web.Response(text="late")


async def fast(request):
    return web.Response(text="fast")


async def raises_timeout(request):
    raise TimeoutError("the handler's own timeout")
"""


async def test_route_timeout_answers_503_when_exceeded(project: Project) -> None:
    project.write("slow", SLOW)
    app = project.app(
        """\
        routes:
          GET /slow:
            handler: PKG.slow.slow
            timeout: 50ms
          GET /fast:
            handler: PKG.slow.fast
            timeout: 10s
          GET /own:
            handler: PKG.slow.raises_timeout
            timeout: 10s
        """
    )
    async with serving(app) as client:
        slow = await client.get("/slow")
        fast = await client.get("/fast")
        own = await client.get("/own")
    assert slow.status_code == 503
    assert slow.text == "503: the handler did not answer in time"
    assert (fast.status_code, fast.text) == (200, "fast")
    # A TimeoutError the handler raises itself is an ordinary failure, not the route's timeout.
    assert own.status_code == 500


def test_file_problems_and_import_problems_are_reported_together(project: Project) -> None:
    # One run of `check` shows the typo in the file *and* the handler that does not
    # import, so the user does not fix one only to meet the next.
    project.write("good", GOOD)
    assert project.issues(
        "service:\n  prot: 1\nroutes:\n  GET /a: PKG.good.hello\n  GET /b: PKG.missing.hello\n"
        "  GET /c: PKG.good.helo\n"
    ) == [
        f"{where(project, 2, 3)}: service.prot: unknown key 'prot' (did you mean 'port'?)",
        f"{where(project, 5, 11)}: routes['GET /b']: module not found: '{project.pkg}.missing'",
        f"{where(project, 6, 11)}: routes['GET /c']: module '{project.pkg}.good' has no attribute 'helo'"
        " (did you mean 'hello'?)",
    ]
