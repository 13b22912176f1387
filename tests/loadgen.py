"""A steady load of keep-alive HTTP clients, run in a thread while a test changes the servers.

Each of ``clients`` connections cycles through GET /healthz (whose ``instance``
says which replica answered), GET /hello and POST /echo, and records every
status, every connection error and every instance seen. It is bounded in
requests (``limit`` per client) and in time (``stop()`` waits at most its
``timeout``); the short pause between one client's requests keeps a 2-CPU
machine able to run the orchestrator beside it.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from dataclasses import dataclass, field

import httpx

PAUSE = 0.01  # seconds between one client's requests


@dataclass
class LoadResult:
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    errors: list[str] = field(default_factory=list)
    instances: set[str] = field(default_factory=set)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + len(self.errors)

    @property
    def failures(self) -> int:
        """Answers other than 2xx, and requests that got no answer."""
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300) + len(self.errors)

    def summary(self) -> str:
        return (
            f"{self.requests} requests, {self.failures} failed (statuses {dict(self.statuses)}, "
            f"{len(self.errors)} errors {self.errors[:5]}), {len(self.instances)} instances"
        )


class Load:
    """``with Load(url) as load: ...`` runs the load for the block; ``load.result`` after."""

    def __init__(self, base_url: str, clients: int = 8, limit: int = 100_000) -> None:
        self.base_url = base_url
        self.clients = clients
        self.limit = limit
        self.result = LoadResult()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 30.0) -> LoadResult:
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the load did not stop"
        return self.result

    async def _run(self) -> None:
        await asyncio.gather(*(self._client() for _ in range(self.clients)))

    async def _client(self) -> None:
        result = self.result
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)  # one keep-alive connection
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10.0, limits=limits) as client:
            for number in range(self.limit):
                if self._stop.is_set():
                    return
                try:
                    kind = number % 3
                    if kind == 0:
                        answer = await client.get("/healthz")
                        if answer.status_code == 200:
                            result.instances.add(answer.json()["instance"])
                    elif kind == 1:
                        answer = await client.get("/hello")
                    else:
                        answer = await client.post("/echo", json={"text": "hi", "repeat": 2})
                    result.statuses[answer.status_code] += 1
                except httpx.HTTPError as exc:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(PAUSE)
