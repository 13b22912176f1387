"""The three servers the benchmark compares, and the files they are built from.

All three answer the same routes with the same bodies. Each runs as its own
process: ``python -m bench.apps aiohttp ROUTES_COUNT PORT`` or ``... floor PORT``;
this project runs as users run it, ``python -m service serve routes.yaml``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

HELLO = "Hello, world!"
FILLER_STATIC = "/static/r{i}"
FILLER_DYNAMIC = "/dyn{i}/items/{{id:int}}"

HANDLERS = """
from pydantic import BaseModel

from service import web


async def hello(request):
    return web.Response(text="Hello, world!")


async def user(request):
    return web.json_response({"id": request.match_info["id"]})


async def echo(request):
    return web.Response(body=await request.read(), content_type="application/json")


class Blob(BaseModel):
    data: str


async def echo_model(request):
    request.validated(Blob)  # routes.yaml declares body: Blob: validated before this runs
    return web.Response(body=await request.read(), content_type="application/json")
"""


def filler_routes(count: int) -> list[tuple[str, str]]:
    """``count`` extra routes, half static, half dynamic; the last is dynamic."""
    routes = []
    for i in range(count // 2):
        routes.append(("GET", FILLER_STATIC.format(i=i)))
        routes.append(("GET", FILLER_DYNAMIC.format(i=i)))
    return routes


def last_dynamic_path(count: int) -> str:
    return f"/dyn{count // 2 - 1}/items/7"


def write_service_project(
    directory: Path, filler: int, *, body_model: bool = False, service: tuple[str, ...] = ()
) -> Path:
    """routes.yaml + handlers for ``python -m service serve``; with ``body_model``,
    ``POST /echo`` declares ``body: Blob`` (a separate project: a baseline checkout
    older than models could not load it). ``service``: more lines of the ``service:`` block."""
    (directory / "benchhandlers").mkdir(parents=True, exist_ok=True)
    (directory / "benchhandlers" / "__init__.py").write_text(HANDLERS)
    lines = [
        "service:",
        "  healthz: null",
        "  client_max_size: 1MiB",
        *(f"  {line}" for line in service),
        "routes:",
        "  GET /hello: benchhandlers.hello",
        "  GET /users/{id:int}: benchhandlers.user",
        "  POST /echo: {handler: benchhandlers.echo_model, body: benchhandlers.Blob}"
        if body_model
        else "  POST /echo: benchhandlers.echo",
    ]
    lines += [f"  {method} {path}: benchhandlers.user" for method, path in filler_routes(filler)]
    routes = directory / "routes.yaml"
    routes.write_text("\n".join(lines) + "\n")
    return routes


def run_aiohttp(filler: int, port: int) -> None:
    import uvloop
    from aiohttp import web
    from pydantic import BaseModel, ValidationError

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=HELLO)

    async def user(request: web.Request) -> web.Response:
        return web.json_response({"id": int(request.match_info["id"])})

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read(), content_type="application/json")

    class Blob(BaseModel):
        data: str

    async def echo_model(request: web.Request) -> web.Response:
        # What aiohttp code writes for the same check, by hand.
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType()
        raw = await request.read()
        try:
            Blob.model_validate_json(raw, strict=True)
        except ValidationError as exc:
            raise web.HTTPUnprocessableEntity(text=exc.json()) from None
        return web.Response(body=raw, content_type="application/json")

    routes = web.RouteTableDef()
    routes.get("/hello")(hello)
    routes.get(r"/users/{id:\d+}")(user)
    routes.post("/echo")(echo)
    routes.post("/echo-model")(echo_model)
    for _, path in filler_routes(filler):
        routes.get(path.replace("{id:int}", r"{id:\d+}"))(user)
    app = web.Application()
    app.add_routes(routes)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def run_floor(port: int) -> None:
    """The limit of Python here: parse with httptools, answer one fixed response."""
    import httptools
    import uvloop

    body = HELLO.encode()
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: %d\r\nServer: floor\r\n\r\n%s" % (len(body), body)
    )

    class Floor(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.parser = httptools.HttpRequestParser(self)

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_message_complete(self) -> None:
            self.transport.write(response)  # type: ignore[attr-defined]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Floor, "127.0.0.1", port, backlog=2048)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "aiohttp":
        run_aiohttp(int(sys.argv[2]), int(sys.argv[3]))
    elif kind == "floor":
        run_floor(int(sys.argv[2]))
    else:
        raise SystemExit(f"unknown server {kind!r}: {json.dumps(sys.argv)}")


POLICY_ROUTES = {  # name -> the policy, in routes.yaml's words ("" for none)
    "none": "",
    "timeout": "timeout: 30s",
    "max_body": "max_body: 64KiB",
    "concurrency": "concurrency: {limit: 1000}",
    "rate_limit": "rate_limit: 1000000000/second",  # (never refuses: the cost of counting)
    "cors": 'cors: {allow_origins: ["http://bench.test"]}',
    "api_key": "auth: {api_key: {header: X-API-Key, keys_env: BENCH_API_KEYS}}",
    "bearer_jwt": (
        "auth: {bearer_jwt: {issuer: bench, audience: service, algorithms: [RS256], key_env: BENCH_JWT_KEY}}"
    ),
}


def write_policies_project(directory: Path) -> Path:
    """One route per policy, ``GET /p/{name}/{id:int}``, each declaring only that policy
    (keys from BENCH_API_KEYS and BENCH_JWT_KEY, which the bench sets)."""
    (directory / "benchhandlers").mkdir(parents=True, exist_ok=True)
    (directory / "benchhandlers" / "__init__.py").write_text(HANDLERS)
    lines = ["service:", "  healthz: null", "routes:"]
    for name, policy in POLICY_ROUTES.items():
        extra = f", {policy}" if policy else ""
        lines.append(f"  GET /p/{name}/{{id:int}}: {{handler: benchhandlers.user{extra}}}")
    routes = directory / "routes.yaml"
    routes.write_text("\n".join(lines) + "\n")
    return routes
