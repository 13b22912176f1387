"""End to end: ``python -m service serve`` in a subprocess, driven over HTTP with httpx.

The server listens on 127.0.0.1 port 0; the real port is read from its
``Serving on http://127.0.0.1:PORT`` log line. Every wait is bounded; SIGTERM
must stop it gracefully with exit code 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from serving import REPO, ServiceProcess, tracked

HTTP_TIMEOUT = 5.0


@pytest.fixture
def serve() -> Iterator[Callable[..., ServiceProcess]]:
    """``serve(routes, cwd=...)`` -> a ``python -m service serve`` process, killed at teardown."""
    with tracked() as start:
        yield start


def client(port: int) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=HTTP_TIMEOUT, trust_env=False)


# -- a service of the test's own, in tmp_path ------------------------------------------------------
API = """\
from service import web


async def get_user(request):
    user_id = request.match_info["id"]
    return web.json_response({"id": user_id, "type": type(user_id).__name__})


async def create(request):
    data = await request.json()
    return web.json_response({"created": data}, status=201)
"""

ROUTES = """\
service:
  name: e2e
routes:
  GET /users/{id:int}: handlers.api.get_user
  POST /things: handlers.api.create
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """tmp_path/proj: routes.yaml and a handlers/ package of its own (not the repo's)."""
    root = tmp_path / "proj"
    (root / "handlers").mkdir(parents=True)
    (root / "handlers" / "__init__.py").write_text("")
    (root / "handlers" / "api.py").write_text(API)
    (root / "routes.yaml").write_text(ROUTES)
    return root


def exercise_own_service(port: int) -> None:
    with client(port) as http:
        user = http.get("/users/42")
        assert user.status_code == 200
        assert user.json() == {"id": 42, "type": "int"}
        created = http.post("/things", json={"name": "x", "n": [1, 2]})
        assert created.status_code == 201
        assert created.json() == {"created": {"name": "x", "n": [1, 2]}}
        assert http.get("/users/abc").status_code == 404
        assert http.get("/nowhere").status_code == 404
        wrong_method = http.delete("/users/42")
        assert wrong_method.status_code == 405
        assert wrong_method.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_serve_own_service_from_its_directory(serve: Callable[..., ServiceProcess], project: Path) -> None:
    process = serve("routes.yaml", cwd=project)
    port = process.wait_serving()
    exercise_own_service(port)
    assert process.terminate() == 0, process.lines


@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_serve_from_a_different_cwd(
    serve: Callable[..., ServiceProcess], project: Path, tmp_path: Path, how: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    routes = str(project / "routes.yaml") if how == "absolute" else os.path.join("..", "proj", "routes.yaml")
    process = serve(routes, cwd=elsewhere)
    port = process.wait_serving()
    exercise_own_service(port)
    assert process.terminate() == 0, process.lines


# -- the repository's own example service ------------------------------------------------------------
def test_repo_example_service(serve: Callable[..., ServiceProcess], tmp_path: Path) -> None:
    process = serve(REPO / "routes.yaml", cwd=tmp_path)
    port = process.wait_serving()
    with client(port) as http:
        hello = http.get("/hello")
        assert (hello.status_code, hello.text) == (200, "Hello, world!")
        assert hello.headers["X-Response-Time"].endswith("ms")  # the timing middleware ran
        greet = http.get("/hello/ann")
        assert (greet.status_code, greet.text) == (200, "Hello, ann!")

        user = http.get("/users/42")
        assert user.status_code == 200
        assert user.json() == {"id": 42, "name": "user-42"}
        assert http.get("/users/x").status_code == 404

        echo = http.post("/echo", json={"text": "hi", "repeat": 2})
        assert (echo.status_code, echo.json()) == (200, {"echo": "hi hi"})
        invalid = http.post("/echo", json={"repeat": "x"})
        assert invalid.status_code == 422
        assert invalid.headers["Content-Type"] == "application/problem+json"
        assert [e["loc"] for e in invalid.json()["errors"]] == [["body", "text"], ["body", "repeat"]]
        assert http.post("/echo", content=b"hi", headers={"Content-Type": "text/plain"}).status_code == 415
        for body in (b'{"text": secret}', b"", b'{"text": "a"} xyzzy'):  # not JSON: 400, input not echoed
            broken = http.post("/echo", content=body, headers={"Content-Type": "application/json"})
            assert broken.status_code == 400, broken.text
            assert broken.json()["detail"] == "the body is not valid JSON"
            assert "secret" not in broken.text and "xyzzy" not in broken.text
        json_type = {"Content-Type": "application/json"}
        assert http.post("/items", content=b"[", headers=json_type).status_code == 400

        assert (http.get("/items").status_code, http.get("/items").json()) == (200, [])
        assert http.get("/items?limit=0").status_code == 422  # the list's query model
        created = http.post("/items", json={"name": "pen", "price": 1.5})
        assert created.status_code == 201
        assert created.headers["Location"] == "/items/1"
        assert created.json() == {"id": 1, "name": "pen", "price": 1.5}
        assert http.post("/items", json={"name": "pen", "price": 2}).status_code == 409
        assert http.post("/items", json={"name": "", "price": -1}).status_code == 422
        fetched = http.get(created.headers["Location"])
        assert (fetched.status_code, fetched.json()) == (200, {"id": 1, "name": "pen", "price": 1.5})
        replaced = http.put("/items/1", json={"name": "pencil", "price": 2})
        assert (replaced.status_code, replaced.json()) == (200, {"id": 1, "name": "pencil", "price": 2.0})
        assert http.get("/items").json() == [{"id": 1, "name": "pencil", "price": 2.0}]
        assert http.delete("/items/1").status_code == 401  # the admin policy: an API key
        key = {"X-API-Key": "demo-key"}  # (handlers/demo-api-keys.txt)
        deleted = http.delete("/items/1", headers=key)
        assert (deleted.status_code, deleted.content) == (204, b"")
        assert http.get("/items/1").status_code == 404
        assert http.delete("/items/1", headers=key).status_code == 404
        assert http.put("/items/7", json={"name": "x", "price": 1}).status_code == 404

        # Every answer of a handler or of the router passes the timing middleware: raised
        # HTTP errors (404 from a handler, 409), the models' 422 and 400, the router's 404 and
        # 405; a crash's 500 not.
        answers = [
            http.get("/items/99"),
            http.post("/items", json={"name": "pen", "price": 1}),
            http.post("/items", json={"name": "pen", "price": 1}),
            http.post("/items", json={"name": ""}),
            http.get("/no/such/path"),
            http.delete("/hello"),
            http.post("/echo", content=b"{", headers={"Content-Type": "application/json"}),
        ]
        assert [a.status_code for a in answers] == [404, 201, 409, 422, 404, 405, 400]
        assert all(a.headers["X-Response-Time"].endswith("ms") for a in answers), [a.headers for a in answers]

        health = http.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert health.json()["service"] == "example"
    assert process.terminate() == 0, process.lines
    assert any("item store closed with 1 item(s)" in line for line in process.lines), process.lines
