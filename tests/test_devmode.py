"""Development mode against production (the default): what a 404 and a 500 carry.

In development (``serve --dev``, ``SERVICE_ENV=development``) a 404 lists the nearest
routes and a 500 carries the traceback, and ``serve`` binds 127.0.0.1; in
production the bodies stay generic. Both are pinned, through a real server.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from serving import ChildProcess

from service import Application, Response, Server

MakeServer = Callable[..., Awaitable[Server]]
TIMEOUT = 10.0  # bound on every request; never a timing assertion


async def get_user(request: object) -> Response:
    return Response(text="user")


async def broken(request: object) -> Response:
    return Response(text=str(1 / 0))


def build(dev: bool) -> Application:
    app = Application()
    app.router.add_get("/users/{id:int}", get_user)
    app.router.add_get("/broken", broken)
    app.dev = dev
    return app


@pytest.mark.parametrize("dev", [False, True], ids=["production", "development"])
async def test_what_a_404_and_a_500_say(make_server: MakeServer, dev: bool) -> None:
    server = await make_server(build(dev))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as client:
        missing = await client.get("/user/42")
        failed = await client.get("/broken")
    assert (missing.status_code, failed.status_code) == (404, 500)
    if dev:
        assert missing.text.startswith("404: Not Found: no route matches GET /user/42\n\nNearest routes:\n")
        assert "  GET /users/{id:int}" in missing.text
        assert failed.text.startswith("500: Internal Server Error\n\nTraceback (most recent call last):")
        assert "ZeroDivisionError: division by zero" in failed.text and "in broken" in failed.text
    else:
        assert (missing.text, failed.text) == ("404: Not Found", "500: Internal Server Error")


def test_the_environment_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Application().dev is False
    monkeypatch.setenv("SERVICE_ENV", "development")
    assert Application().dev is True


def test_serve_dev_binds_127_0_0_1_and_answers_as_development(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "async def hello(request):\n    from service import Response\n    return Response(text='hi')\n"
    )
    (tmp_path / "routes.yaml").write_text("service:\n  host: 0.0.0.0\nroutes:\n  GET /hello: app.hello\n")
    argv = [sys.executable, "-m", "service", "serve", "--dev", "--port", "0", "--no-reload"]
    process = ChildProcess(argv, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    try:
        port = process.wait_serving()
        assert "Serving on http://127.0.0.1:" in process.log()
        response = httpx.get(f"http://127.0.0.1:{port}/helo", timeout=TIMEOUT)
        assert response.status_code == 404 and "Nearest routes:\n  GET /hello" in response.text
    finally:
        process.kill()
