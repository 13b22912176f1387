"""Liveness, readiness and the drain: what an orchestrator sees of a starting, serving and
stopping service (``/livez``, ``/healthz``, ``/readyz``; SIGTERM drains, Ctrl-C does not)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import httpx
from serving import ChildProcess

from service.testing import TestClient

TIMEOUT = 10.0  # bound on every wait; never a timing assertion
HANDLER = "from service import Response\n\nasync def hello(request):\n    return Response(text='hi')\n"


def project(tmp_path: Path, drain: str) -> Path:
    (tmp_path / "app.py").write_text(HANDLER)
    routes = tmp_path / "routes.yaml"
    routes.write_text(f"service:\n  name: demo\n  drain_delay: {drain}\nroutes:\n  GET /hello: app.hello\n")
    return routes


async def test_ready_while_serving_and_not_while_draining(tmp_path: Path) -> None:
    client_of = TestClient(project(tmp_path, "1s"))
    async with client_of as client:
        assert (await client.get("/readyz")).json() == {"status": "ready"}
        verbose = (await client.get("/readyz?verbose")).json()
        assert verbose["checks"] == {
            "started": True,
            "draining": False,
            "generation": 1,
            "last_reload_failed": False,
        }
        client_of.server.readiness.draining = True
        answer = await client.get("/readyz")
        assert (answer.status_code, answer.json()) == (503, {"status": "draining"})
        for alive in ("/livez", "/healthz"):  # liveness never looks: 200 while draining
            assert (await client.get(alive)).json()["status"] == "ok"


def serve(tmp_path: Path, routes: Path) -> ChildProcess:
    argv = [sys.executable, "-m", "service", "serve", str(routes), "--host", "127.0.0.1", "--port", "0"]
    return ChildProcess([*argv, "--no-reload"], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})


def test_sigterm_drains_then_stops(tmp_path: Path) -> None:
    process = serve(tmp_path, project(tmp_path, "3s"))
    try:
        base = f"http://127.0.0.1:{process.wait_serving()}"
        assert httpx.get(f"{base}/readyz", timeout=TIMEOUT).status_code == 200
        process.signal(signal.SIGTERM)
        process.wait_log(r"Draining for 3 s", timeout=TIMEOUT)
        ready = httpx.get(f"{base}/readyz", timeout=TIMEOUT)
        assert (ready.status_code, ready.json()) == (503, {"status": "draining"})
        alive = httpx.get(f"{base}/livez", timeout=TIMEOUT)
        served = httpx.get(f"{base}/hello", timeout=TIMEOUT)  # still answered, on a new connection
        assert (alive.status_code, served.text, served.headers["Connection"]) == (200, "hi", "close")
        assert process.wait_exit() == 0
    finally:
        process.kill()


def test_ctrl_c_stops_without_draining(tmp_path: Path) -> None:
    process = serve(tmp_path, project(tmp_path, "300s"))
    try:
        process.wait_serving()
        process.signal(signal.SIGINT)
        assert process.wait_exit() == 0  # (a 300 s drain would outlast wait_exit's bound)
        assert "Draining" not in process.log()
    finally:
        process.kill()


def test_no_drain_delay_stops_at_once(tmp_path: Path) -> None:
    process = serve(tmp_path, project(tmp_path, "0s"))
    try:
        process.wait_serving()
        process.signal(signal.SIGTERM)
        assert process.wait_exit() == 0
        assert "Draining" not in process.log()
    finally:
        process.kill()
