"""``on_response_prepare``: every response passes through the hooks of its application chain
before its head is sent -- whole or streamed, a handler's, a miss, a failure's 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from service import Application, Request, Response, Server, StreamResponse

MakeServer = Callable[..., Awaitable[Server]]
TIMEOUT = 10.0  # bound on every request; never a timing assertion


def tagging(tag: str) -> Any:
    async def hook(request: Request, response: StreamResponse) -> None:
        seen = response.headers.get("X-Hooks")
        response.headers["X-Hooks"] = f"{seen},{tag}" if seen else tag

    return hook


async def whole(request: Request) -> Response:
    return Response(text="whole")


async def streamed(request: Request) -> StreamResponse:
    response = StreamResponse()
    await response.prepare(request)  # the head goes now: the hooks ran before it
    await response.write(b"streamed")
    return response


async def returned_unprepared(request: Request) -> StreamResponse:
    return StreamResponse()  # the connection prepares it, after the sub-app has returned


async def failing(request: Request) -> Response:
    raise RuntimeError("boom")


def build() -> Application:
    app = Application()
    app.on_response_prepare.append(tagging("root"))
    app.router.add_get("/whole", whole)
    app.router.add_get("/streamed", streamed)
    app.router.add_get("/failing", failing)
    sub = Application()
    sub.on_response_prepare.append(tagging("sub"))
    sub.router.add_get("/whole", whole)
    sub.router.add_get("/streamed", streamed)
    sub.router.add_get("/returned", returned_unprepared)
    app.add_subapp("/sub", sub)
    return app


@pytest.mark.parametrize(
    ("path", "status", "hooks"),
    [
        ("/whole", 200, "root"),
        ("/streamed", 200, "root"),
        ("/failing", 500, "root"),
        ("/missing", 404, "root"),
        ("/sub/whole", 200, "root,sub"),
        ("/sub/streamed", 200, "root,sub"),
        ("/sub/returned", 200, "root,sub"),
    ],
)
async def test_every_response_passes_through_its_chain_of_hooks(
    make_server: MakeServer, path: str, status: int, hooks: str
) -> None:
    server = await make_server(build())
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as client:
        response = await client.get(path)
    assert (response.status_code, response.headers.get("X-Hooks")) == (status, hooks)


async def test_a_failing_hook_is_a_500_and_the_server_goes_on(make_server: MakeServer) -> None:
    async def broken(request: Request, response: StreamResponse) -> None:
        if request.path == "/whole":
            raise ValueError("hook bug")

    app = Application()
    app.on_response_prepare.append(broken)
    app.router.add_get("/whole", whole)
    app.router.add_get("/streamed", streamed)
    server = await make_server(app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as client:
        assert (await client.get("/whole")).status_code == 500
        response = await client.get("/streamed")
        assert (response.status_code, response.text) == (200, "streamed")


def test_an_application_without_hooks_keeps_its_plain_handle() -> None:
    plain, hooked = Application(), Application()
    hooked.on_response_prepare.append(tagging("x"))
    for app in (plain, hooked):
        app.router.add_get("/whole", whole)
        app.freeze()
    assert "handle" not in vars(plain)  # the class's method: no step, no branch per request
    assert "handle" in vars(hooked)
