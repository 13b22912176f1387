"""Testing handlers: the real service, in-process, on 127.0.0.1, and a client bound to it.

    async with TestClient("routes.yaml") as client:
        response = await client.get("/users/1")
        assert response.json() == {"id": 1, "name": "user-1"}

``TestClient`` loads a routes file (or takes an ``Application``), starts the same
``Server`` that ``serve`` runs -- its startup hooks, the real HTTP/1.1 parser and
connection, on a free port of 127.0.0.1 -- and gives an ``httpx.AsyncClient`` whose
base URL is that server. Leaving the block closes the client and shuts the server
down gracefully (the shutdown and cleanup hooks run). Nothing is faked between the
client and the handler, so what passes here passes in production.

For one test, ``handlers={"handlers.users.get_user": fake}`` puts a stand-in in
place of any dotted name of routes.yaml (a handler, middleware, hook or model) and
``settings={"client_max_size": "10KiB"}`` replaces ``service:`` keys, validated as
in the file. The pytest plugin (``service.pytest_plugin``) wraps this as the
``service_client`` fixture.

httpx is needed here (the ``test`` extra has it); nothing else in the package
imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from .config.project import load_app, spec_of
from .http.server import Server
from .http.wire import Limits
from .web.app import Application

__all__ = ["TestClient"]


class TestClient:
    """An in-process service and an ``httpx.AsyncClient`` bound to it (an async context manager)."""

    __test__ = False  # (not a test class, whatever pytest makes of its name)

    def __init__(
        self,
        app: Application | str | os.PathLike[str],
        *,
        handlers: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        limits: Limits | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._app: Application | None = None
        self._path: str | os.PathLike[str] | None = None
        if isinstance(app, Application):
            if handlers or settings or env is not None:
                raise TypeError("handlers=, settings= and env= are for a routes file, not an Application")
            self._app = app
        else:
            self._path = app
        self._handlers = handlers
        self._settings = settings
        self._env = env
        self._limits = limits
        self._timeout = timeout
        self._server: Server | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def app(self) -> Application:
        """The application being served (loaded on entering, for a routes file)."""
        if self._app is None:
            raise RuntimeError("the TestClient has not started: use it in 'async with'")
        return self._app

    @property
    def server(self) -> Server:
        if self._server is None:
            raise RuntimeError("the TestClient has not started: use it in 'async with'")
        return self._server

    async def __aenter__(self) -> httpx.AsyncClient:
        if self._path is not None:  # loaded on each entering: a fresh app, its state new
            self._app = load_app(self._path, env=self._env, handlers=self._handlers, settings=self._settings)
        app = self.app
        # A routes file's request_ids apply (its access log does not: a test's stdout is not for it).
        request_ids = spec_of(app).settings.request_ids if self._path is not None else None
        server = Server(
            app, host="127.0.0.1", port=0, limits=self._limits, block_warning=None, request_ids=request_ids
        )
        await server.start()
        self._server = server
        self._client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=self._timeout)
        return self._client

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._client is not None:
                await self._client.aclose()
        finally:
            if self._server is not None:
                await self._server.shutdown()
            self._client = self._server = None
