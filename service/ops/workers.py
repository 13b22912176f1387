"""``serve --workers N``: N worker processes on one listening socket, supervised.

The parent binds the socket itself -- so the real port is known and logged once,
and ``--port 0`` works -- then starts N copies of ``python -m service serve``
that inherit it; the kernel hands each new connection to one accepting worker.
Each worker is a whole server: its own event loop, its own routes watcher.

The parent
* restarts a worker that exits on its own, after a delay that grows (to 10 s)
  while workers keep dying right after they start -- for instance while
  routes.yaml is broken, which the running workers ride out; only when no worker
  is left and new ones keep dying does it give up, with exit 1;
* turns SIGTERM and SIGINT into one SIGTERM for each worker (a graceful drain),
  a second one into another (workers then stop at once), and forwards SIGHUP
  (reload now);
* exits 0 once every worker has exited after a stop signal.

Workers run in their own session, so a terminal's Ctrl+C reaches only the
parent, which forwards it once; a worker whose parent disappears stops itself.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from ..defaults import BACKLOG
from ..errors import ListenError

__all__ = ["Supervisor", "bind"]

log = logging.getLogger("service.server")

QUICK_DEATH = 5.0  # seconds: a worker dying sooner than this counts towards a crash loop
MAX_QUICK_DEATHS = 5


def bind(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """The listening socket every worker shares; ``ListenError`` if it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        raise ListenError.wrap(host, port, exc) from exc
    sock.set_inheritable(True)
    return sock


@dataclass
class _Worker:
    number: int
    process: subprocess.Popen[bytes]
    started: float


class Supervisor:
    """Starts, watches and stops the workers."""

    def __init__(
        self,
        sock: socket.socket,
        count: int,
        command: Callable[[int, int], list[str]],
        *,
        shutdown_timeout: float,
    ) -> None:
        self._sock = sock
        self._count = count
        self._command = command  # (worker number, fd) -> argv
        self._shutdown_timeout = shutdown_timeout
        self._workers: dict[int, _Worker] = {}
        self._stop_signals = 0
        self._hup = False
        self._quick_deaths = 0

    def _start(self, number: int) -> None:
        fd = self._sock.fileno()
        process = subprocess.Popen(self._command(number, fd), pass_fds=(fd,), start_new_session=True)
        self._workers[number] = _Worker(number, process, time.monotonic())
        log.info("Started worker %d (pid %d)", number, process.pid)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._hup = True
        else:
            self._stop_signals += 1

    def _signal_all(self, signum: int) -> None:
        for worker in self._workers.values():
            if worker.process.poll() is None:
                worker.process.send_signal(signum)

    def run(self) -> int:
        """Supervise until stopped; the process exit code."""
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        for number in range(1, self._count + 1):
            self._start(number)
        restart_at: dict[int, float] = {}
        while not self._stop_signals:
            if self._hup:
                self._hup = False
                log.info("SIGHUP: asking every worker to reload")
                self._signal_all(signal.SIGHUP)
            now = time.monotonic()
            for number, worker in list(self._workers.items()):
                code = worker.process.poll()
                if code is None or number in restart_at:
                    continue
                quick = now - worker.started < QUICK_DEATH
                self._quick_deaths = self._quick_deaths + 1 if quick else 0
                alive = any(w.process.poll() is None for w in self._workers.values())
                if self._quick_deaths >= MAX_QUICK_DEATHS and not alive:
                    # Nobody serves and new workers die at once (a broken routes.yaml
                    # at start, a failing startup hook): running on would only spin.
                    log.error("Workers keep exiting right after they start; giving up")
                    self._stop()
                    return 1
                delay = min(0.5 * 2 ** (self._quick_deaths - 1), 10.0) if quick else 0.0
                log.warning(
                    "Worker %d (pid %d) exited with code %s; restarting it", number, worker.process.pid, code
                )
                restart_at[number] = now + delay
            for number, when in list(restart_at.items()):
                if now >= when and not self._stop_signals:
                    del restart_at[number]
                    self._start(number)
            time.sleep(0.05)
        self._stop()
        return 0

    def _stop(self) -> None:
        log.info("Stopping %d worker(s)", len(self._workers))
        self._signal_all(signal.SIGTERM)
        forwarded = self._stop_signals
        deadline = time.monotonic() + self._shutdown_timeout + 5.0
        while any(w.process.poll() is None for w in self._workers.values()):
            if self._stop_signals > forwarded:  # asked again: workers stop at once
                forwarded = self._stop_signals
                self._signal_all(signal.SIGTERM)
            if time.monotonic() > deadline:
                log.warning("Workers still running after the shutdown timeout; killing them")
                self._signal_all(signal.SIGKILL)
            time.sleep(0.05)
        self._sock.close()


def watch_parent(parent: int) -> Callable[[], bool]:
    """True once the process that started us is gone (we were re-parented)."""
    return lambda: os.getppid() != parent
