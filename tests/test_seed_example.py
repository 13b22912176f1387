"""The seed example from the docs, run as a program: serves, answers, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 15.0  # upper bound for start-up and for shutdown; never a timing assertion

SEED = """\
import sys

from service import web

routes = web.RouteTableDef()


@routes.get("/some/path")
async def handle_this_path(req: web.Request) -> web.Response:
    return web.Response(status=500, text="Server is incomplete")


if __name__ == "__main__":
    app = web.Application()
    app.add_routes(routes)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]))
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_text(path: Path, text: str, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        log = path.read_text(errors="replace")
        if text in log:
            return log
        if proc.poll() is not None:
            raise AssertionError(f"the example exited with {proc.returncode}:\n{log}")
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not logged within {TIMEOUT}s:\n{path.read_text(errors='replace')}")


def test_seed_example_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "seed.py"
    script.write_text(SEED)
    stderr_path = tmp_path / "stderr.txt"
    port = _free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))

    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(port)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        log = _wait_for_text(stderr_path, "Serving on", proc)
        assert f"http://127.0.0.1:{port}" in log

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
            response = client.get("/some/path")
            assert response.status_code == 500
            assert response.text == "Server is incomplete"
            assert response.headers["content-type"] == "text/plain; charset=utf-8"

            missing = client.get("/other")
            assert missing.status_code == 404

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
    log = stderr_path.read_text(errors="replace")
    assert "Traceback" not in log, log
