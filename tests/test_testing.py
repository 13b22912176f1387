"""``service.testing.TestClient`` and the pytest plugin, as a project uses them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from serving import REPO

from service import Application, Response, load_app
from service.testing import TestClient

ROUTES = REPO / "routes.yaml"


async def test_a_routes_file_is_served_for_real_and_stopped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="handlers.db")
    client_of = TestClient(ROUTES)
    async with client_of as client:
        assert (await client.get("/hello")).text == "Hello, world!"
        server, app = client_of.server, client_of.app
        assert server.port > 0 and str(client.base_url) == f"http://127.0.0.1:{server.port}"
        assert "items" in app  # the example's on_startup hook ran
    assert "item store closed with 0 item(s)" in caplog.messages  # ... and its on_cleanup hook
    with pytest.raises(RuntimeError, match="async with"):
        _ = client_of.server


async def test_an_application_too() -> None:
    async def hi(request: object) -> Response:
        return Response(text="hi")

    app = Application()
    app.router.add_get("/", hi)
    async with TestClient(app) as client:
        assert (await client.get("/")).text == "hi"
    with pytest.raises(TypeError, match="routes file"):
        TestClient(app, settings={"port": 1})


def test_load_app_is_the_entry_point_for_programs() -> None:
    app = load_app(ROUTES, settings={"client_max_size": "2KiB"})
    assert app.frozen and app.client_max_size == 2048
    assert [r.path for r in app.router.routes()][:2] == ["/hello", "/hello/{name}"]


PROJECT_TEST = """
import pytest
from service import json_response

async def test_default_routes(service_client):
    assert (await service_client.get("/ping")).json() == "pong"

async def test_marker_routes_file(service_client):
    assert (await service_client.get("/other")).json() == "other"
test_marker_routes_file = pytest.mark.service(routes="other.yaml")(test_marker_routes_file)

async def stand_in(request):
    return json_response("stand-in")

@pytest.mark.service(handlers={"app.ping": stand_in})
async def test_override(service_client):
    assert (await service_client.get("/ping")).json() == "stand-in"
"""


def test_the_pytest_plugin_in_a_project_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "from service import json_response\n\n"
        "async def ping(request):\n    return json_response('pong')\n\n"
        "async def other(request):\n    return json_response('other')\n"
    )
    (tmp_path / "routes.yaml").write_text("routes:\n  GET /ping: app.ping\n")
    (tmp_path / "other.yaml").write_text("routes:\n  GET /other: app.other\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    (tmp_path / "test_it.py").write_text(textwrap.dedent(PROJECT_TEST))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout
