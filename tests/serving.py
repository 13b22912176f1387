"""The service as a child process, for tests that need the real command.

``ServiceProcess`` is a long-running ``python -m service serve``; ``ChildProcess``,
what it is built on, runs any other program that serves (a script calling
``run_app``). Everything either writes (stdout and stderr, merged) is read by a
thread into ``lines`` as it comes. ``run_service`` runs a short command
(``check``, ``routes``, or a ``serve`` that must fail) to its end. Every wait is
bounded; none asserts how long anything took. Only 127.0.0.1 is ever used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0  # upper bound for the server to log "Serving on"
STOP_TIMEOUT = 30.0  # upper bound for the process to exit after a signal
WAIT = 10.0  # default upper bound for a log line to appear
RUN_TIMEOUT = 60.0  # upper bound for one short command (run_service)
SERVING = r"Serving on http://127\.0\.0\.1:(\d+)"


def serve_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without the variables that would change what serve does, plus ``extra``."""
    unset = {"SERVICE_ROUTES", "HOST", "PORT", "SERVICE_LOG_LEVEL"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_service(
    cwd: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = RUN_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """``python -m service ARGS...`` run to its end in ``cwd``; ``env`` is added to ``serve_env()``."""
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=cwd, env=serve_env(env), capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


class ChildProcess:
    """One program started with ``argv`` in ``cwd``, its log read as it comes."""

    def __init__(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None, port: int = 0
    ) -> None:
        self.proc = subprocess.Popen(
            list(argv), cwd=cwd, env=serve_env(env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.port = port
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="service-log", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        with contextlib.suppress(ValueError, OSError):  # the pipe closed under us at teardown
            for line in stream:
                with self._cond:
                    self.lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    # -- the log ----------------------------------------------------------------------------
    def log(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def mark(self) -> int:
        """An index into the log: ``wait_log(..., since=mark)`` looks only at later lines."""
        with self._cond:
            return len(self.lines)

    def find_all(self, pattern: str, *, since: int = 0) -> list[re.Match[str]]:
        regex = re.compile(pattern)
        with self._cond:
            return [m for line in self.lines[since:] if (m := regex.search(line))]

    def find_log(self, pattern: str, *, since: int = 0) -> re.Match[str] | None:
        found = self.find_all(pattern, since=since)
        return found[0] if found else None

    def wait_log(
        self, pattern: str, *, since: int = 0, count: int = 1, timeout: float = WAIT
    ) -> re.Match[str]:
        """The ``count``-th line matching ``pattern`` (after ``since``), once it has come."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for line in self.lines[since:] if (m := regex.search(line))]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    break
                self._cond.wait(min(left, 0.5))
            text = "\n".join(self.lines)
        state = f"exited with {self.proc.poll()}" if self.proc.poll() is not None else "still running"
        raise AssertionError(f"no {count} x {pattern!r} within {timeout} s ({state}); log:\n{text}")

    def wait_serving(self) -> int:
        """The port from the ``Serving on`` line (also kept in ``port``)."""
        self.port = int(self.wait_log(SERVING, timeout=START_TIMEOUT).group(1))
        return self.port

    # -- stopping -----------------------------------------------------------------------------
    def signal(self, sig: signal.Signals) -> None:
        assert self.proc.poll() is None, f"the server exited early; log:\n{self.log()}"
        self.proc.send_signal(sig)

    def wait_exit(self) -> int:
        """The exit code (bounded wait), with the whole log read."""
        code = self.proc.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=STOP_TIMEOUT)
        return code

    def terminate(self) -> int:
        """SIGTERM, then the exit code (bounded wait), with the whole log read."""
        self.signal(signal.SIGTERM)
        return self.wait_exit()

    def kill(self) -> None:
        """Teardown: whatever state it is in, the process and its pipe are gone."""
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=STOP_TIMEOUT)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class ServiceProcess(ChildProcess):
    """One ``python -m service serve ROUTES --host 127.0.0.1 --port PORT FLAGS...``."""

    def __init__(
        self,
        routes: str | os.PathLike[str],
        *flags: str,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(
            [sys.executable, "-m", "service", "serve", os.fspath(routes),
             "--host", "127.0.0.1", "--port", str(port), *flags],
            cwd=cwd, env=env, port=port,
        )  # fmt: skip


@contextlib.contextmanager
def tracked(
    factory: Callable[..., ServiceProcess] = ServiceProcess,
) -> Iterator[Callable[..., ServiceProcess]]:
    """A ``factory`` (``ServiceProcess`` or a subclass) whose processes are all killed on exit
    (for fixtures)."""
    started: list[ServiceProcess] = []

    def start(*args: Any, **kwargs: Any) -> ServiceProcess:
        process = factory(*args, **kwargs)
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.kill()


class MemoryLines:
    """An access log's lines kept in a list (``AccessLog(MemoryLines())``), each parsed."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)

    def close(self) -> None:
        pass

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


def hello_project(directory: Path, module: str, service: str = "") -> Path:
    """A routes file (returned) with one route, ``GET /hi``, answered ``hi`` by ``module.hi``;
    ``service``: the lines of a ``service:`` block. (Each test names its own module: a
    module once imported stays imported.)"""
    (directory / f"{module}.py").write_text(
        "from service import Response\n\nasync def hi(request):\n    return Response(text='hi')\n"
    )
    routes = directory / "routes.yaml"
    block = f"service:\n{service}" if service else ""
    routes.write_text(f"{block}routes:\n  GET /hi: {module}.hi\n")
    return routes
