"""The second example, examples/aiohttp_app: an aiohttp application, one import changed.

The same source runs twice -- as written (``from service import web``) and with that
line put back to ``from aiohttp import web`` -- and one client session walks both
through log-in, cookies, redirects, uploads (whole and streamed), a file download
with a range, a class-based view and the admin sub-application. Both must answer
alike: the statuses, the bodies and the headers that carry meaning.
"""

from __future__ import annotations

import re
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "examples" / "aiohttp_app" / "app.py"
OURS = "from service import web"
THEIRS = "from aiohttp import web"
TIMEOUT = 10.0  # bound on every request; never a timing assertion


def load(framework: str) -> types.ModuleType:
    text = SOURCE.read_text(encoding="utf-8")
    imports = re.findall(rf"^{OURS}\b", text, flags=re.M)
    assert imports == [OURS], "the example imports service.web exactly once, on a line of its own"
    if framework == "aiohttp":
        text = re.sub(rf"^{OURS}\b", THEIRS, text, flags=re.M)
    module = types.ModuleType(f"example_{framework}")
    module.__file__ = str(SOURCE)
    exec(compile(text, str(SOURCE), "exec"), module.__dict__)
    return module


@pytest.fixture(params=["service", "aiohttp"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    module = load(request.param)
    web = module.web
    runner = web.AppRunner(module.create_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as http:
            yield http
    finally:
        await runner.cleanup()


async def test_log_in_and_out_with_a_form_cookies_and_redirects(client: httpx.AsyncClient) -> None:
    assert (await client.get("/")).text == "Hello, stranger! 0 notes."
    assert (await client.post("/login", data={"name": ""})).status_code == 400

    response = await client.post("/login", data={"name": "Ada"})
    assert (response.status_code, response.headers["Location"]) == (303, "/")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("name=Ada") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert (await client.get("/")).text == "Hello, Ada! 0 notes."

    response = await client.get("/logout")
    assert (response.status_code, response.headers["Location"]) == (302, "/")
    removal = response.headers["Set-Cookie"]  # (aiohttp writes name="", we write name=: the same)
    assert removal.startswith("name=") and "Max-Age=0" in removal
    client.cookies.clear()
    assert (await client.get("/")).text == "Hello, stranger! 0 notes."

    response = await client.get("/home")
    assert (response.status_code, response.headers["Location"]) == (301, "/")


async def test_uploads_whole_and_streamed_then_a_ranged_download(client: httpx.AsyncClient) -> None:
    data = (bytes(range(256)) * 4000)[:1_000_000]  # with the form's framing, under the 1 MiB limit
    response = await client.post("/upload", files={"file": ("a.bin", data, "application/octet-stream")})
    assert response.status_code == 200, response.text
    saved = response.json()
    assert (saved["name"], saved["size"]) == ("a.bin", len(data))

    files = [("one", ("b.txt", b"b" * 5000, "text/plain")), ("two", ("c.txt", b"c" * 3000, "text/plain"))]
    response = await client.post("/upload/stream", data={"note": "x"}, files=files)
    assert (response.status_code, response.json()) == (
        201,
        [{"name": "b.txt", "size": 5000}, {"name": "c.txt", "size": 3000}],
    )

    response = await client.get("/files/a.bin", headers={"Range": "bytes=10-19"})
    assert (response.status_code, response.content) == (206, data[10:20])
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert (await client.get("/files/missing.bin")).status_code == 404


async def test_a_class_based_view(client: httpx.AsyncClient) -> None:
    assert (await client.put("/notes/7", json={"text": "remember"})).status_code == 201
    response = await client.get("/notes/7")
    assert response.json() == {"id": "7", "text": "remember"}
    response = await client.post("/notes/7")
    assert response.status_code == 405
    assert {"GET", "PUT", "DELETE"} <= {m.strip() for m in response.headers["Allow"].split(",")}
    assert (await client.delete("/notes/7")).status_code == 204
    assert (await client.get("/notes/7")).status_code == 404


async def test_the_admin_sub_application_and_its_middleware(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/stats")
    assert (response.status_code, response.headers.get("WWW-Authenticate")) == (401, "Token")
    await client.put("/notes/1", json={"text": "a"})
    response = await client.get("/admin/stats", headers={"X-Admin-Token": "let-me-in"})
    assert response.status_code == 200, response.text
    got: dict[str, Any] = response.json()
    assert got == {"notes": 1, "url": f"http://127.0.0.1:{client.base_url.port}/admin/stats"}
