"""``serve --workers N``: start, a killed worker replaced, a graceful stop.

Real processes on 127.0.0.1 port 0. Each worker answers ``/pid`` with its own
process id, so the test sees which workers serve. Every wait is bounded in
count and time; nothing here asserts how long anything took.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
LIMIT = 30.0  # upper bound on every wait


class Supervised:
    def __init__(self, tmp: Path, workers: int) -> None:
        env = {k: v for k, v in os.environ.items() if k not in {"SERVICE_ROUTES", "PORT", "HOST"}}
        env["PYTHONPATH"] = str(REPO)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "routes.yaml", "--host", "127.0.0.1", "--port", "0",
             "--workers", str(workers)],
            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, count: int = 1) -> list[re.Match[str]]:
        deadline = time.monotonic() + LIMIT
        while time.monotonic() < deadline:
            with self._lock:
                found = [m for line in self.lines if (m := re.search(pattern, line))]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail(f"never saw {count} x {pattern!r}; log: {self.lines}")

    def worker_pids(self) -> dict[int, int]:
        """Worker number -> pid of its latest start."""
        pids: dict[int, int] = {}
        with self._lock:
            for line in self.lines:
                if m := re.search(r"Started worker (\d+) \(pid (\d+)\)", line):
                    pids[int(m.group(1))] = int(m.group(2))
        return pids


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "wk_handlers").mkdir()
    (tmp_path / "wk_handlers" / "__init__.py").write_text(
        "import os\nfrom service import web\n\n"
        "async def pid(request):\n    return web.Response(text=str(os.getpid()))\n"
    )
    (tmp_path / "routes.yaml").write_text("routes:\n  GET /pid: wk_handlers.pid\n")
    return tmp_path


@pytest.fixture
def supervised(project: Path) -> Iterator[Supervised]:
    server = Supervised(project, workers=2)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(LIMIT)
        for pid in server.worker_pids().values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        server._reader.join(LIMIT)
        assert server.proc.stderr is not None
        server.proc.stderr.close()


def _answering_pids(port: int, wanted: set[int]) -> set[int]:
    """Ask with a new connection each time until every wanted pid answered (bounded)."""
    seen: set[int] = set()
    deadline = time.monotonic() + LIMIT
    for _ in range(2000):
        if wanted <= seen or time.monotonic() > deadline:
            break
        with httpx.Client(timeout=5) as client:
            response = client.get(f"http://127.0.0.1:{port}/pid")
        assert response.status_code == 200
        seen.add(int(response.text))
    return seen


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_workers_start_share_the_port_get_replaced_and_stop_gracefully(supervised: Supervised) -> None:
    port = int(supervised.wait_for(r"Serving on http://127\.0\.0\.1:(\d+) with 2 workers")[0].group(1))
    supervised.wait_for(r"Serving on http://127\.0\.0\.1:\d+$", count=2)  # each worker, when ready
    first = supervised.worker_pids()
    assert sorted(first) == [1, 2]
    assert _answering_pids(port, set(first.values())) == set(first.values())

    os.kill(first[1], signal.SIGKILL)
    supervised.wait_for(rf"Worker 1 \(pid {first[1]}\) exited with code -9; restarting it")
    supervised.wait_for(r"Started worker 1 ", count=2)
    replaced = supervised.worker_pids()
    assert replaced[1] != first[1] and replaced[2] == first[2]
    supervised.wait_for(r"Serving on http://127\.0\.0\.1:\d+$", count=3)
    assert _answering_pids(port, set(replaced.values())) == set(replaced.values())

    supervised.proc.send_signal(signal.SIGTERM)
    assert supervised.proc.wait(LIMIT) == 0
    assert all(_gone(pid) for pid in replaced.values())


def test_bad_worker_count_is_a_usage_error(project: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve", "routes.yaml", "--workers", "none"],
        cwd=project, env=env, capture_output=True, text=True, timeout=LIMIT,
    )  # fmt: skip
    assert result.returncode == 2
    assert "'none' is not a number or 'auto'" in result.stderr
