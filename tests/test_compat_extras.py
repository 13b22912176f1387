"""The smaller names of aiohttp's API: typed request/response keys, response state,
CleanupError, json_bytes_response, RequestPayloadError -- through a real server where a
socket matters."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from service import Application, Request, Response, Server, web

MakeServer = Callable[..., Awaitable[Server]]
TIMEOUT = 10.0  # bound on every request; never a timing assertion
USER = web.RequestKey("user", str)
TIMING = web.ResponseKey("timing", float)


@web.middleware
async def tag(
    request: Request, handler: Callable[[Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    request[USER] = "ada"
    response = await handler(request)
    response.headers["X-Timing"] = str(response.get(TIMING, "none"))
    return response


async def hello(request: Request) -> Response:
    response = Response(text=f"hello {request[USER]}")
    response[TIMING] = 1.5
    response["plain"] = "str keys too"
    assert dict(response) == {TIMING: 1.5, "plain": "str keys too"} and bool(Response())
    return response


async def fast_json(request: Request) -> Response:
    return web.json_bytes_response({"a": [1, 2]}, dumps=lambda data: json.dumps(data).encode())


async def payload(request: Request) -> Response:
    try:
        await request.read()
    except web.RequestPayloadError as exc:
        return Response(status=422, text=f"caught: {exc.text}")
    return Response(text="read")


async def test_typed_keys_response_state_json_bytes_and_payload_errors(make_server: MakeServer) -> None:
    app = Application(middlewares=[tag])
    app.router.add_get("/hello", hello)
    app.router.add_get("/json", fast_json)
    app.router.add_post("/payload", payload)
    server = await make_server(app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as client:
        response = await client.get("/hello")
        assert (response.text, response.headers["X-Timing"]) == ("hello ada", "1.5")
        response = await client.get("/json")
        assert (response.json(), response.headers["Content-Type"]) == ({"a": [1, 2]}, "application/json")
        corrupt = gzip.compress(b"data")[:-6]
        response = await client.post("/payload", content=corrupt, headers={"Content-Encoding": "gzip"})
        assert response.status_code == 422 and response.text.startswith("caught: 400: the gzip body")


def test_json_bytes_response_takes_data_or_body() -> None:
    assert web.json_bytes_response(body=b"[]", dumps=bytes).body == b"[]"
    with pytest.raises(ValueError, match="not both"):
        web.json_bytes_response([], body=b"[]", dumps=bytes)


async def test_several_failed_teardowns_are_one_cleanup_error() -> None:
    async def broken(name: str) -> Callable[[Application], AsyncIterator[None]]:
        async def context(app: Application) -> AsyncIterator[None]:
            yield
            raise OSError(f"{name} cannot stop")

        return context

    app = Application()
    app.cleanup_ctx.extend([await broken("a"), await broken("b")])
    await app.startup()
    with pytest.raises(web.CleanupError) as raised:
        await app.cleanup()
    assert [str(e) for e in raised.value.exceptions] == ["b cannot stop", "a cannot stop"]
    assert isinstance(raised.value, RuntimeError)
