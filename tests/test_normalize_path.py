"""normalize_path_middleware: a path no route matches is redirected to one that does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from service import Application, Request, Server, web

MakeServer = Callable[..., Awaitable[Server]]


async def ok(request: Request) -> web.Response:
    return web.Response(text="ok " + request.path)


def app_with(**options: Any) -> Application:
    app = Application(middlewares=[web.normalize_path_middleware(**options)])
    app.add_routes(
        [web.get("/dir/", ok), web.get("/file", ok), web.post("/form/", ok), web.get("/café/", ok)]
    )
    return app


@pytest.mark.parametrize(
    ("options", "method", "target", "status", "location"),
    [
        ({}, "GET", "/dir", 308, "/dir/"),
        ({}, "GET", "/dir?q=1&r=2", 308, "/dir/?q=1&r=2"),
        ({}, "GET", "//dir//", 308, "/dir/"),
        ({}, "GET", "//file", 308, "/file"),
        ({}, "POST", "/form", 308, "/form/"),  # 308 keeps the method and body
        ({}, "GET", "/caf%C3%A9", 308, "/caf%C3%A9/"),  # the path as sent
        ({}, "GET", "/file/", 404, None),  # appending does not help, removing is off
        ({"append_slash": False, "remove_slash": True}, "GET", "/file/", 308, "/file"),
        ({"merge_slashes": False}, "GET", "//dir//", 404, None),
        ({"redirect_class": web.HTTPFound}, "GET", "/dir", 302, "/dir/"),
        ({}, "GET", "/dir/", 200, None),  # a match is left alone
        ({}, "GET", "/nowhere", 404, None),
        ({}, "DELETE", "/dir", 404, None),  # no DELETE route under any spelling: no redirect
        ({}, "DELETE", "/dir/", 405, None),
    ],
)
async def test_normalize_path(
    make_server: MakeServer,
    options: dict[str, Any],
    method: str,
    target: str,
    status: int,
    location: str | None,
) -> None:
    server = await make_server(app_with(**options))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        response = await client.request(method, httpx.URL(f"http://127.0.0.1:{server.port}{target}"))
    assert response.status_code == status, response.text
    assert response.headers.get("Location") == location


def test_append_and_remove_together_are_refused() -> None:
    with pytest.raises(ValueError):
        web.normalize_path_middleware(append_slash=True, remove_slash=True)
