"""The seed example from the docs, run as a program: serves, answers, stops on SIGTERM."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import httpx
from serving import ChildProcess

TIMEOUT = 15.0  # upper bound for each request; never a timing assertion

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


def test_seed_example_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "seed.py").write_text(SEED)
    port = _free_port()
    proc = ChildProcess([sys.executable, "seed.py", str(port)], cwd=tmp_path)
    try:
        assert proc.wait_serving() == port  # "Serving on http://127.0.0.1:PORT", the port it was given

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
            response = client.get("/some/path")
            assert response.status_code == 500
            assert response.text == "Server is incomplete"
            assert response.headers["content-type"] == "text/plain; charset=utf-8"

            missing = client.get("/other")
            assert missing.status_code == 404

        assert proc.terminate() == 0
    finally:
        proc.kill()
    assert "Traceback" not in proc.log(), proc.log()
