"""A bounded soak: tens of thousands of requests over many keep-alive connections,
zero errors, and resident memory that stops growing after a warm-up.

Set SOAK_REQUESTS for a longer run. The bound on growth is generous on purpose:
it catches a leak per request (a few hundred bytes each adds megabytes), not noise.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from service import Application, Request, Response, Server, json_response

MakeServer = Callable[..., Awaitable[Server]]
TOTAL = int(os.environ.get("SOAK_REQUESTS", "30000"))
CONNECTIONS = 50
BOUND = 120.0


def _rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


async def test_soak_has_no_errors_and_no_growing_memory(make_server: MakeServer) -> None:
    async def hello(request: Request) -> Response:
        return Response(text="hello")

    async def user(request: Request) -> Response:
        await asyncio.sleep(0)  # a handler that suspends, too
        return json_response({"id": request.match_info["id"], "q": request.query.get("q")})

    app = Application()
    app.router.add_get("/hello", hello)
    app.router.add_get("/users/{id:int}", user)
    server = await make_server(app)
    errors: list[str] = []

    async def client(count: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            for i in range(count):
                path = b"/hello" if i % 2 else b"/users/%d?q=x" % i
                writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n\r\n")
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200 "):
                    errors.append(head[:40].decode())
        finally:
            writer.close()

    async def run(total: int) -> None:
        await asyncio.wait_for(
            asyncio.gather(*(client(total // CONNECTIONS) for _ in range(CONNECTIONS))), BOUND
        )

    await run(TOTAL // 5)  # warm-up: caches, allocator arenas
    gc.collect()
    before = _rss_kib()
    await run(TOTAL)
    gc.collect()
    grown = _rss_kib() - before
    assert errors == []
    assert grown < 16 * 1024, f"resident memory grew by {grown} KiB over {TOTAL} requests"
