"""The container, for real: build the image, `compose up`, curl it, stop it.

Needs a Docker engine. Without one the tests skip and say why -- unless
REQUIRE_DOCKER=1, as in CI, where a missing engine is a failure. Everything talks
to the container through ports published on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from dockerkit import COPY_IGNORE, REPO, free_port, require_docker, run

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def docker() -> None:
    require_docker()


def _compose() -> list[str]:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    if probe.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is available")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the repository, so tests may edit routes.yaml freely."""
    copy = tmp_path / "project"
    shutil.copytree(REPO, copy, ignore=COPY_IGNORE)
    return copy


def test_broken_routes_file_fails_the_build(docker: None, project: Path) -> None:
    routes = project / "routes.yaml"
    routes.write_text(routes.read_text().replace("handlers.hello.hello", "handlers.hello.helo"))
    tag = f"service-broken-{uuid.uuid4().hex[:8]}"
    result = run(["docker", "build", "-t", tag, "."], project, check=False)
    run(["docker", "image", "rm", "-f", tag], project, check=False)
    line_no, line = next(
        (n, text)
        for n, text in enumerate(routes.read_text().splitlines(), 1)
        if "handlers.hello.helo" in text
    )
    col = line.index("handlers.hello.helo") + 1
    assert result.returncode != 0
    expected = (
        f"routes.yaml:{line_no}:{col}: routes['GET /hello']: module 'handlers.hello' has no attribute 'helo'"
    )
    assert expected in result.stdout + result.stderr


@pytest.fixture
def compose_up(docker: None, project: Path) -> Iterator[tuple[list[str], Path, dict[str, str], int]]:
    port = free_port()
    name = f"svc{uuid.uuid4().hex[:8]}"
    env = {"PORT": str(port), "COMPOSE_PROJECT_NAME": name}
    compose = _compose()
    try:
        run([*compose, "up", "-d", "--build"], project, env=env, timeout=900)
        yield compose, project, env, port
    finally:
        run([*compose, "down", "--rmi", "local", "-v", "-t", "20"], project, env=env, check=False)


def _container_id(compose: list[str], project: Path, env: dict[str, str]) -> str:
    out = run([*compose, "ps", "-q", "service"], project, env=env).stdout.strip()
    assert out, "the compose service has no container"
    return out.splitlines()[0]


def _inspect(container: str, fmt: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "--format", fmt, container], capture_output=True, text=True, timeout=30
    ).stdout.strip()


def _wait_healthy(container: str, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    status = ""
    while time.monotonic() < deadline:
        status = _inspect(container, "{{.State.Health.Status}}")
        if status == "healthy":
            return
        time.sleep(1)
    logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True, timeout=30)
    pytest.fail(f"container not healthy after {limit}s (status {status!r})\n{logs.stdout}\n{logs.stderr}")


def _wait_for(
    base: str,
    path: str,
    status: int,
    text: str | None,
    check: Callable[[httpx.Response], bool] = lambda r: True,
    limit: float = 15,
) -> httpx.Response:
    """Poll until ``path`` answers as expected (live edits land within about a second)."""
    deadline = time.monotonic() + limit
    seen = None
    while time.monotonic() < deadline:
        seen = httpx.get(base + path, timeout=5)
        if seen.status_code == status and (text is None or seen.text == text) and check(seen):
            return seen
        time.sleep(0.2)
    pytest.fail(f"{path} never answered {status} {text!r}; last: {seen and (seen.status_code, seen.text)}")


def test_compose_up_serves_and_stops_cleanly(compose_up: tuple[list[str], Path, dict[str, str], int]) -> None:
    compose, project, env, port = compose_up
    container = _container_id(compose, project, env)
    _wait_healthy(container)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/hello").text == "Hello, world!"
        assert client.get("/users/42").json() == {"id": 42, "name": "user-42"}
        health = client.get("/healthz").json()
        assert (health["status"], health["service"], health["generation"]) == ("ok", "example", 1)
        assert client.get("/nope").status_code == 404
        created = client.post("/items", json={"name": "pen", "price": 1.5})
        assert created.status_code == 201 and created.headers["Location"] == "/items/1"

    # Edits on the host take effect in the running container, for both kinds of
    # save: in place, and write-a-new-file-then-rename (which a single-file bind
    # mount would never see). A handler edit too.
    routes = project / "routes.yaml"
    original = routes.read_text()
    routes.write_text(original.replace("routes:\n", "routes:\n  GET /live: handlers.hello.hello\n", 1))
    _wait_for(base, "/live", 200, "Hello, world!")
    replacement = project / ".routes.yaml.swp"
    replacement.write_text(
        original.replace("routes:\n", "routes:\n  GET /renamed: handlers.hello.hello\n", 1)
    )
    os.replace(replacement, routes)
    _wait_for(base, "/renamed", 200, "Hello, world!")
    _wait_for(base, "/live", 404, None)
    hello = project / "handlers" / "hello.py"
    hello.write_text(hello.read_text().replace("Hello, world!", "Hello, live edit!"))
    _wait_for(base, "/hello", 200, "Hello, live edit!")
    routes.write_text(original.replace("handlers.hello.hello", "handlers.hello.nope"))  # a broken edit
    health = _wait_for(base, "/healthz", 200, None, lambda r: r.json()["last_reload_failed"])
    assert health.json()["generation"] == 4
    _wait_for(base, "/hello", 200, "Hello, live edit!")  # still serving the last good table

    started = time.monotonic()
    run(["docker", "stop", "-t", "15", container], project, timeout=60)
    took = time.monotonic() - started
    assert _inspect(container, "{{.State.ExitCode}}") == "0"
    assert took < 15, f"docker stop took {took:.1f}s: SIGTERM did not stop the server, SIGKILL did"


def test_a_new_project_builds_and_serves_in_a_container(docker: None, tmp_path: Path) -> None:
    """``service new``'s Dockerfile: the framework from its wheel, the project's routes served."""
    made = subprocess.run(
        [sys.executable, "-m", "service", "new", "svc"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stderr
    project, tag, port = tmp_path / "svc", f"service-new-{uuid.uuid4().hex[:8]}", free_port()
    name = tag
    try:
        run(["docker", "build", "-t", tag, "."], project)
        run(["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", tag], project)
        deadline = time.monotonic() + 60
        while True:  # bounded: until the server answers or the minute is up
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=2) as response:
                    assert response.read() == b"Hello, world!"
                    break
            except OSError:
                if time.monotonic() > deadline:
                    logs = run(["docker", "logs", name], project, check=False)
                    pytest.fail(f"the container never answered\n{logs.stdout}\n{logs.stderr}")
                time.sleep(0.5)
    finally:
        run(["docker", "rm", "-f", name], project, check=False)
        run(["docker", "image", "rm", "-f", tag], project, check=False)
