"""``serve --workers N``: start, a killed worker replaced, a graceful stop, a bad count.

Real processes on 127.0.0.1 port 0. Each worker answers ``/pid`` with its own
process id, so the test sees which workers serve. Every wait is bounded in
count and time; nothing here asserts how long anything took. (A port in use, with
and without workers: ``test_cli.py``.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serving import ServiceProcess, run_service

LIMIT = 30.0  # upper bound on every wait


class Supervised(ServiceProcess):
    """``serve --workers N``; the supervisor and its workers log to the same pipe."""

    def worker_pids(self) -> dict[int, int]:
        """Worker number -> pid of its latest start."""
        return {
            int(m.group(1)): int(m.group(2)) for m in self.find_all(r"Started worker (\d+) \(pid (\d+)\)")
        }


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
    server = Supervised("routes.yaml", "--workers", "2", cwd=project)
    try:
        yield server
    finally:
        # The supervisor first (alive, it would restart the workers), then the workers,
        # which hold the log pipe open too; then the pipe is read to its end.
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(LIMIT)
        for pid in server.worker_pids().values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        server.kill()


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
    announced = supervised.wait_log(r"Serving on http://127\.0\.0\.1:(\d+) with 2 workers", timeout=LIMIT)
    port = int(announced.group(1))
    supervised.wait_log(r"Serving on http://127\.0\.0\.1:\d+$", count=2, timeout=LIMIT)  # each worker
    for number in (1, 2):  # every line of a worker says which one wrote it
        supervised.wait_log(rf"INFO \[worker {number}\] service\.server: Serving on", timeout=LIMIT)
    first = supervised.worker_pids()
    assert sorted(first) == [1, 2]
    assert _answering_pids(port, set(first.values())) == set(first.values())

    os.kill(first[1], signal.SIGKILL)
    supervised.wait_log(rf"Worker 1 \(pid {first[1]}\) exited with code -9; restarting it", timeout=LIMIT)
    supervised.wait_log(r"Started worker 1 ", count=2, timeout=LIMIT)
    replaced = supervised.worker_pids()
    assert replaced[1] != first[1] and replaced[2] == first[2]
    supervised.wait_log(r"Serving on http://127\.0\.0\.1:\d+$", count=3, timeout=LIMIT)
    assert _answering_pids(port, set(replaced.values())) == set(replaced.values())

    assert supervised.terminate() == 0
    assert all(_gone(pid) for pid in replaced.values())


def test_bad_worker_count_is_a_usage_error(project: Path) -> None:
    result = run_service(project, "serve", "routes.yaml", "--workers", "none", timeout=LIMIT)
    assert result.returncode == 2
    assert "'none' is not a number or 'auto'" in result.stderr
